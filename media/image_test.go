package media

import (
	"testing"

	"github.com/alice-runtime/alice/internal/testimages"
)

func TestDetectImage(t *testing.T) {
	for format, data := range testimages.Samples(t) {
		t.Run(format, func(t *testing.T) {
			img, err := DetectImage(data)
			if err != nil || img.Format != format {
				t.Fatalf("DetectImage = %+v, %v; want %s", img, err, format)
			}
			if img.Width <= 0 || img.Height <= 0 {
				t.Fatalf("size %dx%d", img.Width, img.Height)
			}
		})
	}
}

func TestDetectImageRefuses(t *testing.T) {
	png := testimages.Samples(t)["png"]
	for name, data := range map[string][]byte{
		"text":             []byte("this is not an image at all"),
		"empty":            nil,
		"png magic only":   png[:8],
		"truncated header": png[:20],
		"jpeg magic only":  {0xff, 0xd8, 0xff},
		"riff not webp":    []byte("RIFF\x04\x00\x00\x00WAVE"),
		"ico past the end": {0, 0, 1, 0, 1, 0, 16, 16, 0, 0, 1, 0, 32, 0, 0xff, 0, 0, 0, 22, 0, 0, 0},
		"pdf":              []byte("%PDF-1.7\n"),
	} {
		if img, err := DetectImage(data); err == nil {
			t.Errorf("%s: accepted as %+v", name, img)
		}
	}
}

// FuzzDetectImage: any bytes are refused or recognised as one of the
// accepted formats with a positive size; nothing panics.
func FuzzDetectImage(f *testing.F) {
	for _, data := range testimages.Samples(f) {
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	f.Add([]byte{0, 0, 1, 0, 1, 0, 16, 16, 0, 0, 1, 0, 32, 0, 0xff, 0, 0, 0, 22, 0, 0, 0})
	formats := map[string]bool{"jpeg": true, "png": true, "gif": true, "webp": true, "bmp": true, "tiff": true, "ico": true}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := DetectImage(data)
		if err != nil {
			if err != ErrNotImage {
				t.Fatalf("refused with %v, want ErrNotImage", err)
			}
			return
		}
		if !formats[img.Format] || img.Width <= 0 || img.Height <= 0 || img.ContentType != "image/"+img.Format && img.Format != "ico" {
			t.Fatalf("recognised as %+v", img)
		}
	})
}
