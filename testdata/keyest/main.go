// Command keyest estimates what shorter keys would save in a data dir's
// tables, without building a storage format for them: it reads every live
// entry of a stopped server's store and lays the entries out in table
// blocks as badger does (4 KB blocks, each key stored as its difference
// from the block's first key, Zstandard at level 1), once with the keys as
// they are and once with every task id in the K, I, S and D keys written
// as its 16 binary bytes instead of its 31 characters.
//
//	go run ./testdata/keyest DATA_DIR/store
//
// Both layouts keep the same order (a ULID's bytes sort as its text does),
// so the difference is the keys' bytes alone. It is an estimate of the
// bottom level's blocks: level 0 also holds older versions of rewritten
// keys, and tables add their indexes and bloom filters.
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log"
	"maps"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/klauspost/compress/zstd"
	"github.com/oklog/ulid/v2"
)

const blockSize = 4 << 10 // badger's default BlockSize

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: keyest DATA_DIR/store (the server stopped)")
	}
	db, err := badger.OpenManaged(badger.DefaultOptions(os.Args[1]).WithReadOnly(true).WithLogger(nil))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	now, short, err := layouts(db)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("family  entries  keys as they are: in blocks, compressed  binary task ids: in blocks, compressed (bytes an entry)")
	var all, allShort blocks
	for _, f := range slices.Sorted(maps.Keys(now)) {
		b, s := now[f], short[f]
		fmt.Printf("%c       %8d  %6.1f %5.1f  %6.1f %5.1f\n", f, b.entries, b.perEntry(b.raw), b.perEntry(b.compressed), s.perEntry(s.raw), s.perEntry(s.compressed))
		all.sum(b)
		allShort.sum(s)
	}
	fmt.Printf("all     %8d  %6.1f %5.1f  %6.1f %5.1f  (binary: %+.1f%% in blocks, %+.1f%% compressed)\n", all.entries,
		all.perEntry(all.raw), all.perEntry(all.compressed), allShort.perEntry(allShort.raw), allShort.perEntry(allShort.compressed),
		100*(float64(allShort.raw)/float64(all.raw)-1), 100*(float64(allShort.compressed)/float64(all.compressed)-1))
}

// layouts lays out every live entry twice, family by family (each family
// is contiguous in key order, so it fills its own blocks): with its key,
// and with the key shortened.
func layouts(db *badger.DB) (now, short map[byte]*blocks, err error) {
	now, short = map[byte]*blocks{}, map[byte]*blocks{}
	txn := db.NewTransactionAt(math.MaxUint64, false)
	defer txn.Discard()
	it := txn.NewIterator(badger.DefaultIteratorOptions)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		key := it.Item().KeyCopy(nil)
		value, err := it.Item().ValueCopy(nil)
		if err != nil {
			return nil, nil, fmt.Errorf("read %q: %w", key, err)
		}
		s, err := shorten(key)
		if err != nil {
			return nil, nil, err
		}
		if now[key[0]] == nil {
			if now[key[0]], err = newBlocks(); err != nil {
				return nil, nil, err
			}
			if short[key[0]], err = newBlocks(); err != nil {
				return nil, nil, err
			}
		}
		now[key[0]].add(key, value)
		short[key[0]].add(s, value)
	}
	for f := range now {
		now[f].flush()
		short[f].flush()
	}
	return now, short, nil
}

// shorten rewrites each task id component of a K, I, S or D key as 16
// bytes. The tuple layout is persistence/badgerstore/keys.go's: a family
// byte (D then 8 bytes of due time), then components, each a uvarint
// length and its bytes.
func shorten(key []byte) ([]byte, error) {
	fixed := 1
	switch key[0] {
	case 'K', 'I', 'S':
	case 'D':
		fixed = 9
	default:
		return key, nil
	}
	out := append([]byte(nil), key[:fixed]...)
	for rest := key[fixed:]; len(rest) > 0; {
		n, w := binary.Uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < n {
			return nil, fmt.Errorf("key %q is not a tuple", key)
		}
		part := rest[w : w+int(n)]
		rest = rest[w+int(n):]
		if id, ok := strings.CutPrefix(string(part), "task_"); ok {
			u, err := ulid.ParseStrict(strings.ToUpper(id))
			if err != nil {
				return nil, fmt.Errorf("task id in key %q: %w", key, err)
			}
			part = u[:]
		}
		out = binary.AppendUvarint(out, uint64(len(part)))
		out = append(out, part...)
	}
	return out, nil
}

// blocks counts the bytes of entries laid out in table blocks.
type blocks struct {
	enc             *zstd.Encoder
	block           bytes.Buffer
	base            []byte // the block's first key
	inBlock         int
	entries         int
	raw, compressed int
}

func newBlocks() (*blocks, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(1)))
	if err != nil {
		return nil, err
	}
	return &blocks{enc: enc}, nil
}

// add appends one entry as badger's table builder does: a header of the
// bytes shared with the block's first key and of the rest, the rest of
// the key with its 8-byte version, the value's meta bytes and expiry, the
// value, and a 4-byte offset in the block's index.
func (b *blocks) add(key, value []byte) {
	key = append(key, make([]byte, 8)...)
	if b.inBlock > 0 && b.block.Len()+len(key)+len(value)+11 > blockSize {
		b.flush()
	}
	if b.inBlock == 0 {
		b.base = key
	}
	shared := 0
	for shared < len(key) && shared < len(b.base) && key[shared] == b.base[shared] {
		shared++
	}
	b.block.Write(binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, uint16(shared)), uint16(len(key)-shared)))
	b.block.Write(key[shared:])
	b.block.Write([]byte{0, 0, 0}) // meta, user meta, no expiry
	b.block.Write(value)
	b.block.Write(make([]byte, 4))
	b.inBlock++
	b.entries++
}

// sum adds o's counts to b's.
func (b *blocks) sum(o *blocks) {
	b.entries += o.entries
	b.raw += o.raw
	b.compressed += o.compressed
}

// perEntry is n bytes over b's entries.
func (b *blocks) perEntry(n int) float64 { return float64(n) / float64(b.entries) }

func (b *blocks) flush() {
	if b.inBlock == 0 {
		return
	}
	b.raw += b.block.Len()
	b.compressed += len(b.enc.EncodeAll(b.block.Bytes(), nil))
	b.block.Reset()
	b.inBlock = 0
}
