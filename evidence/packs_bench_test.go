package evidence

import (
	"bufio"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkPackRead reads records of 1–3 KB at random places in a pack of
// 100,000 (about 200 MB), giving each buffer back, as writing a workbook
// does: one op is one record.
func BenchmarkPackRead(b *testing.B) {
	type at struct{ off, n int64 }
	s := newStore(b)
	f, err := os.Create(filepath.Join(s.Dir(), rawDir, "job-1.pack"))
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	chunk := randomBytes(5, 3072)
	r := rand.New(rand.NewPCG(5, 5))
	recs := make([]at, 100_000)
	var off int64
	for i := range recs {
		recs[i] = at{off, 1024 + r.Int64N(2049)}
		w.Write(chunk[:recs[i].n])
		off += recs[i].n
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	r.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	read := func(a at) error {
		raw, err := s.raw.read("job-1.pack", a.off, a.n)
		ReleaseRaw(raw)
		return err
	}
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if err := read(recs[i%len(recs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(rand.Uint64(), 0))
			for pb.Next() {
				if err := read(recs[r.IntN(len(recs))]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
