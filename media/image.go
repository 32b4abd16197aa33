// Package media recognises the image formats chat platforms accept, from
// the bytes and never from a file name.
package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	_ "image/gif" // registers the decoders DecodeConfig uses
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// Image describes a recognised image.
type Image struct {
	Format        string // jpeg, png, gif, webp, bmp, tiff or ico
	ContentType   string
	Width, Height int
}

// ErrNotImage is returned for data that is not a well-formed image in one of
// the accepted formats.
var ErrNotImage = errors.New("not a JPEG, PNG, GIF, WEBP, BMP, TIFF or ICO image")

// DetectImage parses the image's header (not just its magic number), so a
// truncated or fake header is refused too.
func DetectImage(data []byte) (Image, error) {
	if img, ok := detectICO(data); ok {
		return img, nil
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return Image{}, ErrNotImage
	}
	return Image{Format: format, ContentType: "image/" + format, Width: cfg.Width, Height: cfg.Height}, nil
}

// detectICO checks an ICO directory: reserved 0, type 1, at least one entry,
// and every entry's data inside the file. Go has no ICO decoder.
func detectICO(data []byte) (Image, bool) {
	if len(data) < 6 || binary.LittleEndian.Uint16(data[0:]) != 0 || binary.LittleEndian.Uint16(data[2:]) != 1 {
		return Image{}, false
	}
	n := int(binary.LittleEndian.Uint16(data[4:]))
	if n == 0 || len(data) < 6+16*n {
		return Image{}, false
	}
	var w, h int
	for i := 0; i < n; i++ {
		e := data[6+16*i:]
		size, offset := binary.LittleEndian.Uint32(e[8:]), binary.LittleEndian.Uint32(e[12:])
		if size == 0 || uint64(offset)+uint64(size) > uint64(len(data)) || offset < uint32(6+16*n) {
			return Image{}, false
		}
		if i == 0 {
			w, h = int(e[0]), int(e[1])
			if w == 0 {
				w = 256 // 0 means 256 in an ICO directory
			}
			if h == 0 {
				h = 256
			}
		}
	}
	return Image{Format: "ico", ContentType: "image/x-icon", Width: w, Height: h}, true
}
