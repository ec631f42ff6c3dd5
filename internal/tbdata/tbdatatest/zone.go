// Package tbdatatest writes TigerBeetle data-file fixtures as TigerBeetle 0.17.9's `format` lays them out
// (src/vsr/superblock.zig), written from the layout independently of the reader in tbdata.
package tbdatatest

import (
	"encoding/binary"
	"math/big"

	"github.com/m2mnet/m2m/internal/tbdata"
)

// The superblock zone of the production configuration: four copies of an 8 KiB SuperBlockHeader, each in a
// 24 KiB slot. In a header: checksum u128 at 0, checksum_padding u128, copy u16 at 32, version u16, release_format
// u32, sequence u64 at 40, cluster u128 at 48; the checksum covers every byte after `copy`.
const (
	HeaderSize    = 8192
	CopySize      = 24576
	Copies        = 4
	OffsetCluster = 48
)

// Zone returns the superblock zone of a file formatted for cluster by release 0.17.9, at sequence.
func Zone(cluster *big.Int, sequence uint64) []byte {
	buf := make([]byte, CopySize*Copies)
	be := cluster.FillBytes(make([]byte, 16))
	for c := range Copies {
		h := buf[c*CopySize : c*CopySize+HeaderSize]
		binary.LittleEndian.PutUint16(h[32:], uint16(c))
		binary.LittleEndian.PutUint16(h[34:], 2)
		binary.LittleEndian.PutUint32(h[36:], 0<<16|17<<8|9)
		binary.LittleEndian.PutUint64(h[40:], sequence)
		for i := range 16 {
			h[OffsetCluster+i] = be[15-i]
		}
		h[OffsetCluster+16+5] = 0xa5 // the parent checksum: any bytes under the checksum
		sum := tbdata.Checksum(h[34:])
		copy(h, sum[:])
	}
	return buf
}
