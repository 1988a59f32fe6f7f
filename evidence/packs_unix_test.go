//go:build unix

package evidence

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// A pack cut short after it was mapped is reported missing where bytes are
// gone, instead of the copy crashing salvage, and still reads where they
// are not.
func TestPackReadAfterTruncation(t *testing.T) {
	page := int64(os.Getpagesize())
	tests := []struct {
		name   string
		cut    int64 // the size the pack is cut to
		off, n int64
		want   string // in the error
	}{
		{"cut to nothing", 0, page, 100, errCutShort.Error()},
		{"cut to nothing, its first byte", 0, 0, 1, errCutShort.Error()},
		{"a page gone", 2 * page, 5 * page, 100, errCutShort.Error()},
		{"across the new end", 2 * page, 3*page - 10, 20, errCutShort.Error()},
		{"past the mapped end", 2 * page, 8 * page, 1, fmt.Sprintf("the file has %d", 2*page)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			want := randomBytes(4, int(8*page))
			path := packOf(t, s, "job-1.pack", want)
			if _, err := s.raw.read("job-1.pack", 0, 1); err != nil { // maps it
				t.Fatal(err)
			}
			if err := os.Truncate(path, tt.cut); err != nil {
				t.Fatal(err)
			}
			got, err := s.raw.read("job-1.pack", tt.off, tt.n)
			if !errors.Is(err, errRawMissing) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("read %d bytes at %d = %d bytes, %v; want the bytes missing (%s)", tt.n, tt.off, len(got), err, tt.want)
			}
			if tt.cut < 100 {
				return
			}
			if got, err := s.raw.read("job-1.pack", 0, 100); err != nil || !bytes.Equal(got, want[:100]) {
				t.Errorf("the bytes left: %v", err)
			}
		})
	}
}
