package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/alice-runtime/alice"
)

// maxUpload is the API's body limit; a file over it is refused here, before
// it is read and sent.
const maxUpload = 1 << 20

// newMessageCmd is "alice runtime message", also "alice send" (which takes
// the path as an argument too).
func newMessageCmd(c cli, name string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   name,
		Short: "Send an image or a file to the conversation",
		Long: `Sends an image or a file to the conversation in the ALICE_* environment: a
local file (--path), which this command uploads, or a key the platform
already holds (--image-key img_..., --file-key file_...).

` + envHelp,
		Args: cobra.NoArgs,
	}
	send := func(kind alice.MessageKind) *cobra.Command {
		var path, key, caption, fileName string
		keyFlag := string(kind) + "-key"
		sub := &cobra.Command{
			Use:   fmt.Sprintf("%s (--path P | --%s K) [--caption C]", kind, keyFlag),
			Short: fmt.Sprintf("Send %s %s", map[alice.MessageKind]string{alice.KindImage: "an", alice.KindFile: "a"}[kind], kind),
			Args:  cobra.MaximumNArgs(1),
			RunE: runSkill(c, func(s *skill, args []string) error {
				if len(args) == 1 {
					if path != "" {
						return usageError{errors.New("give the path as an argument or with --path, not both")}
					}
					path = args[0]
				}
				if (path == "") == (key == "") {
					return usageError{fmt.Errorf("give --path (a local file) or --%s (a key the platform holds)", keyFlag)}
				}
				conv, err := s.conversation()
				if err != nil {
					return err
				}
				m := alice.Outgoing{Kind: kind, Key: key, Caption: caption, FileName: fileName}
				if path != "" {
					if m.Data, err = readUpload(path); err != nil {
						return err
					}
					if m.FileName == "" {
						m.FileName = filepath.Base(path)
					}
				}
				id, err := s.client.SendMessage(s.ctx, conv, alice.MessageSend{Message: m})
				if err != nil {
					return err
				}
				return s.print(map[string]string{"message_id": id})
			}),
		}
		sub.Flags().StringVar(&path, "path", "", "the local `file` to upload")
		sub.Flags().StringVar(&key, keyFlag, "", "a `key` the platform already holds, instead of a file")
		sub.Flags().StringVar(&caption, "caption", "", "`text` delivered with it")
		if kind == alice.KindFile {
			sub.Flags().StringVar(&fileName, "file-name", "", "the `name` shown (default: the file's)")
			sub.Flags().StringVar(&fileName, "filename", "", "the same as --file-name")
			sub.Flags().MarkHidden("filename")
		}
		return sub
	}
	cmd.AddCommand(send(alice.KindImage), send(alice.KindFile))
	return cmd
}

func readUpload(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUpload+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxUpload {
		return nil, fmt.Errorf("%s is larger than 1 MB, the API's limit", path)
	}
	return data, nil
}

// newMessagesCmd lists the conversation's local outbox.
func newMessagesCmd(c cli) *cobra.Command {
	var limit, offset int
	cmd := &cobra.Command{
		Use:   "messages [--limit N] [--offset N]",
		Short: "List the conversation's messages in the local outbox, oldest first",
		Args:  cobra.NoArgs,
		RunE: runSkill(c, func(s *skill, _ []string) error {
			conv, err := s.conversation()
			if err != nil {
				return err
			}
			items, _, err := s.client.ListMessages(s.ctx, conv, alice.Page{Limit: limit, Offset: offset})
			if err != nil {
				return err
			}
			if items == nil {
				items = []alice.Message{}
			}
			return s.print(items)
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many (1-200)")
	cmd.Flags().IntVar(&offset, "offset", 0, "skip this many")
	return cmd
}
