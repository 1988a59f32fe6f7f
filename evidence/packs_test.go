package evidence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// packOf writes b as the pack name in s's raw directory, behind the store's
// back, and returns its path.
func packOf(t testing.TB, s *Store, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(s.Dir(), rawDir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed)}).Read(b)
	return b
}

// appendTo appends b to the file at path, as an import does.
func appendTo(t testing.TB, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// A read gives the bytes ReadAt gives, wherever they are in the pack, and
// bytes the pack does not have are missing.
func TestPackRead(t *testing.T) {
	page := int64(os.Getpagesize())
	size := 3*page + 123 // the last page is not full
	s := newStore(t)
	want := randomBytes(1, int(size))
	packOf(t, s, "job-1.pack", want)
	tests := []struct {
		name    string
		pack    string
		off, n  int64
		missing bool
	}{
		{"nothing", "job-1.pack", 0, 0, false},
		{"nothing at the end", "job-1.pack", size, 0, false},
		{"the first byte", "job-1.pack", 0, 1, false},
		{"the last byte", "job-1.pack", size - 1, 1, false},
		{"the whole file", "job-1.pack", 0, size, false},
		{"across a page boundary", "job-1.pack", page - 10, 20, false},
		{"the last page", "job-1.pack", 3 * page, 123, false},
		{"a record", "job-1.pack", 1000, 2500, false},
		{"one byte past the end", "job-1.pack", size, 1, true},
		{"the last byte and one more", "job-1.pack", size - 1, 2, true},
		{"far past the end", "job-1.pack", 10 * size, 5, true},
		{"more than the file", "job-1.pack", 0, size + 1, true},
		{"a negative offset", "job-1.pack", -1, 1, true},
		{"a pack not there", "job-9.pack", 0, 1, true},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		off := r.Int64N(size)
		tests = append(tests, struct {
			name    string
			pack    string
			off, n  int64
			missing bool
		}{fmt.Sprintf("random %d", i), "job-1.pack", off, r.Int64N(min(size-off, 3000) + 1), false})
	}
	for _, tt := range tests {
		got, err := s.raw.read(tt.pack, tt.off, tt.n)
		switch {
		case tt.missing:
			if !errors.Is(err, errRawMissing) || got != nil {
				t.Errorf("%s: read %d bytes at %d = %d bytes, %v; want the bytes missing", tt.name, tt.n, tt.off, len(got), err)
			}
		case err != nil:
			t.Errorf("%s: read %d bytes at %d: %v", tt.name, tt.n, tt.off, err)
		case !bytes.Equal(got, want[tt.off:tt.off+tt.n]):
			t.Errorf("%s: read %d bytes at %d: not the bytes in the file", tt.name, tt.n, tt.off)
		}
		ReleaseRaw(got) // the next read reuses the buffer
	}
}

// A pack that grows after it was first read reads whole, its new bytes too.
func TestPackReadAfterGrowth(t *testing.T) {
	page := int64(os.Getpagesize())
	s := newStore(t)
	want := randomBytes(2, int(10*page))
	path := packOf(t, s, "job-1.pack", want[:5000])
	steps := []struct {
		name    string
		size    int64 // the pack's size at this step
		off, n  int64
		missing bool
	}{
		{"before it grows", 5000, 0, 5000, false},
		{"past its end", 5000, 4999, 2, true},
		{"its new bytes", 2*page + 7, 5000, 2*page + 7 - 5000, false},
		{"across the old end", 2*page + 7, 4000, 2000, false},
		{"the new last byte", 2*page + 7, 2*page + 6, 1, false},
		{"past the new end", 2*page + 7, 2*page + 6, 2, true},
		{"grown again", 10 * page, 0, 10 * page, false},
	}
	size := int64(5000)
	for _, st := range steps {
		if st.size > size {
			appendTo(t, path, want[size:st.size])
			size = st.size
		}
		got, err := s.raw.read("job-1.pack", st.off, st.n)
		switch {
		case st.missing:
			if !errors.Is(err, errRawMissing) {
				t.Errorf("%s: read %d bytes at %d = %d bytes, %v; want the bytes missing", st.name, st.n, st.off, len(got), err)
			}
		case err != nil:
			t.Errorf("%s: read %d bytes at %d: %v", st.name, st.n, st.off, err)
		case !bytes.Equal(got, want[st.off:st.off+st.n]):
			t.Errorf("%s: read %d bytes at %d: not the bytes in the file", st.name, st.n, st.off)
		}
	}
}

// An import and reads in one process: the job's pack grows between reads.
func TestRecordsReadWhileImporting(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	job, err := s.StartJob(ctx, "test", Stripe, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for batch := range 3 {
		var recs []Record
		for i := range 20 {
			id := fmt.Sprintf("stripe:pi_%d_%02d", batch, i)
			want[id] = strings.Repeat(id, 100+i*37) // a few KB, across pages
			recs = append(recs, rec(id, "api", want[id]))
		}
		if _, err := s.Commit(ctx, job, Batch{Records: recs}); err != nil {
			t.Fatal(err)
		}
		n := 0
		for r, err := range s.Records(ctx, Query{WithRaw: true}) {
			if err != nil {
				t.Fatal(err)
			}
			if string(r.Raw) != want[r.ID] {
				t.Fatalf("after batch %d: %s reads %d bytes, not its own", batch, r.ID, len(r.Raw))
			}
			n++
		}
		if n != len(want) {
			t.Fatalf("after batch %d: %d records, want %d", batch, n, len(want))
		}
	}
}

// Reads on several goroutines while the pack grows (each growth maps it
// again) all get the right bytes; run under -race.
// A reader of many records gets the same bytes, and the store closes while
// the map is being filled in.
func TestPackReadOfMany(t *testing.T) {
	const size = 32 << 20
	s := newStore(t)
	want := randomBytes(4, size)
	packOf(t, s, "job-1.pack", want)
	r := rand.New(rand.NewPCG(4, 4))
	for range 1000 {
		off := r.Int64N(size - 5000)
		n := r.Int64N(5000) + 1
		got, err := s.raw.readOfMany("job-1.pack", off, n)
		if err != nil {
			t.Fatalf("read %d bytes at %d: %v", n, off, err)
		}
		if !bytes.Equal(got, want[off:off+n]) {
			t.Fatalf("read %d bytes at %d: not the bytes in the file", n, off)
		}
		ReleaseRaw(got)
	}
	s.raw.close() // the filling in may still be going on: it stops
	got, err := s.raw.readOfMany("job-1.pack", size-10, 10)
	if err != nil || !bytes.Equal(got, want[size-10:]) {
		t.Fatalf("read after close: %v", err)
	}
	s.raw.close()
}

func TestPackReadConcurrent(t *testing.T) {
	const total = 1 << 20
	s := newStore(t)
	want := randomBytes(3, total)
	path := packOf(t, s, "job-1.pack", want[:4096])
	var size atomic.Int64 // how much of want the pack holds
	size.Store(4096)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 0))
			read := s.raw.read
			if g%2 == 0 { // and the map filled in ahead while the pack grows
				read = s.raw.readOfMany
			}
			for {
				select {
				case <-done:
					return
				default:
				}
				end := size.Load()
				off := r.Int64N(end)
				if r.IntN(4) == 0 { // the newest bytes: past the map if the pack just grew
					off = max(0, end-3000)
				}
				n := r.Int64N(min(end-off, 3000)) + 1
				got, err := read("job-1.pack", off, n)
				if err != nil {
					t.Errorf("read %d bytes at %d of %d: %v", n, off, end, err)
					return
				}
				if !bytes.Equal(got, want[off:off+n]) {
					t.Errorf("read %d bytes at %d of %d: not the bytes in the file", n, off, end)
					return
				}
				ReleaseRaw(got)
				reads.Add(1)
			}
		})
	}
	r := rand.New(rand.NewPCG(9, 9))
	for end := size.Load(); end < total; {
		next := min(total, end+r.Int64N(3*4096)+1)
		appendTo(t, path, want[end:next])
		size.Store(next)
		end = next
		for r0 := reads.Load(); reads.Load() < r0+8 && !t.Failed(); { // reads between growths
			runtime.Gosched()
		}
	}
	close(done)
	wg.Wait()
	t.Logf("%d reads", reads.Load())
}
