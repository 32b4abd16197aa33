// Package testimages builds small, real images in every format the runtime
// accepts, for tests.
package testimages

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// Samples builds one small real image per format. WEBP has no Go encoder:
// its sample is a minimal lossless (VP8L) 1x1 file written byte by byte.
func Samples(t testing.TB) map[string][]byte {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	out := map[string][]byte{}
	enc := map[string]func(*bytes.Buffer) error{
		"png":  func(b *bytes.Buffer) error { return png.Encode(b, img) },
		"jpeg": func(b *bytes.Buffer) error { return jpeg.Encode(b, img, nil) },
		"gif":  func(b *bytes.Buffer) error { return gif.Encode(b, img, nil) },
		"bmp":  func(b *bytes.Buffer) error { return bmp.Encode(b, img) },
		"tiff": func(b *bytes.Buffer) error { return tiff.Encode(b, img, nil) },
	}
	for name, f := range enc {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatalf("encode %s: %v", name, err)
		}
		out[name] = b.Bytes()
	}
	out["webp"] = []byte{
		'R', 'I', 'F', 'F', 26, 0, 0, 0, 'W', 'E', 'B', 'P',
		'V', 'P', '8', 'L', 13, 0, 0, 0,
		0x2f, 0x00, 0x00, 0x00, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xfe, 0x07, 0x00,
	}
	// An ICO whose single entry holds the PNG.
	ico := new(bytes.Buffer)
	binary.Write(ico, binary.LittleEndian, []uint16{0, 1, 1})
	ico.Write([]byte{3, 2, 0, 0})
	binary.Write(ico, binary.LittleEndian, []uint16{1, 32})
	binary.Write(ico, binary.LittleEndian, []uint32{uint32(len(out["png"])), 22})
	ico.Write(out["png"])
	out["ico"] = ico.Bytes()
	return out
}
