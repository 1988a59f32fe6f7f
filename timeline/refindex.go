package timeline

import (
	"bytes"
	"hash/maphash"
	"math/bits"
)

// refIndex maps a record id to the reference of the booking that holds
// it, for a case's million-odd records: the ids in one byte arena and an
// open-addressing table of indexes, nothing the collector has to scan
// (a map of strings cost a few hundred bytes a record).
type refIndex struct {
	seed  maphash.Seed
	ids   []byte   // every id, one after the other
	ends  []uint32 // ends[i] is where id i ends in ids
	refOf []int32  // id i's booking, an index in refs
	refs  []string
	slots []uint32 // 0 empty, else id index + 1
}

func newRefIndex() *refIndex { return &refIndex{seed: maphash.MakeSeed()} }

// addBooking starts a booking; its ids follow with add.
func (x *refIndex) addBooking(ref string) { x.refs = append(x.refs, ref) }

// add says the last booking added holds the record id.
func (x *refIndex) add(id string) {
	x.ids = append(x.ids, id...)
	x.ends = append(x.ends, uint32(len(x.ids)))
	x.refOf = append(x.refOf, int32(len(x.refs)-1))
}

func (x *refIndex) id(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = x.ends[i-1]
	}
	return x.ids[start:x.ends[i]]
}

// build makes the table; an id added twice keeps its first booking.
func (x *refIndex) build() {
	n := len(x.ends)
	size := 1 << bits.Len(uint(n*2)) // load at most ½
	x.slots = make([]uint32, size)
	mask := uint64(size - 1)
	for i := range n {
		id := x.id(i)
		for s := maphash.Bytes(x.seed, id) & mask; ; s = (s + 1) & mask {
			if x.slots[s] == 0 {
				x.slots[s] = uint32(i + 1)
				break
			}
			if bytes.Equal(x.id(int(x.slots[s]-1)), id) {
				break
			}
		}
	}
}

// lookup is the reference of the booking holding id.
func (x *refIndex) lookup(id string) (string, bool) {
	if len(x.slots) == 0 {
		return "", false
	}
	mask := uint64(len(x.slots) - 1)
	for s := maphash.String(x.seed, id) & mask; ; s = (s + 1) & mask {
		e := x.slots[s]
		if e == 0 {
			return "", false
		}
		if string(x.id(int(e-1))) == id {
			return x.refs[x.refOf[e-1]], true
		}
	}
}
