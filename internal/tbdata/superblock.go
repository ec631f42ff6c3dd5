// Package tbdata reads what a TigerBeetle data file says about itself (its superblock) without a TigerBeetle
// binary: which cluster it was formatted for. Layout as of TigerBeetle 0.17.9, src/vsr/superblock.zig.
package tbdata

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// The superblock zone opens the data file: superblockCopies copies of the header, each in a slot of copySize
// bytes (the header, then padding reserved for more view headers). With the production configuration:
// SuperBlockHeader is 8 KiB (a 4 KiB sector of fields, then 11 view headers of 256 bytes, padded to a sector),
// and the padding is ceil((clients_max 64 − pipeline_prepare_queue_max 8) × 256 / 4096) sectors = 16 KiB.
const (
	headerSize       = 8192
	copySize         = headerSize + 16384
	superblockCopies = 4
	// ZoneSize is how much of the file's start holds every copy: reading that much is enough.
	ZoneSize = copySize * superblockCopies
)

// Offsets in SuperBlockHeader (an extern struct, little-endian): checksum u128, checksum_padding u128, copy u16,
// version u16, release_format u32, sequence u64, cluster u128, … The checksum covers everything after copy.
const (
	offChecksumPadding = 16
	offCopy            = 32
	offVersion         = 34
	offReleaseFormat   = 36
	offSequence        = 40
	offCluster         = 48
	checksummedFrom    = offCopy + 2
)

// ErrNotDataFile means no copy of the superblock is intact: the file is not a TigerBeetle data file (or not of
// this layout), or it is damaged where every copy lives.
var ErrNotDataFile = errors.New("no intact TigerBeetle superblock")

// Superblock is what the data file says about itself.
type Superblock struct {
	Cluster  *big.Int // the cluster the file was formatted for (--cluster)
	Version  uint16   // the superblock format: 2 for release builds
	Release  string   // the release that formatted the file, as major.minor.patch
	Sequence uint64   // advances with every superblock write
	Copy     int      // which copy was read
}

// Read reads the superblock zone from r (the data file from its first byte) and returns the intact copy with the
// highest sequence. A file shorter than the zone is read as far as it goes.
func Read(r io.Reader) (Superblock, error) {
	buf := make([]byte, ZoneSize)
	n, err := io.ReadFull(r, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return Superblock{}, fmt.Errorf("read the superblock: %w", err)
	}
	buf = buf[:n]
	var best *Superblock
	for c := range superblockCopies {
		start := c * copySize
		if start+headerSize > len(buf) {
			break
		}
		sb, ok := parseCopy(buf[start:start+headerSize], c)
		if !ok {
			continue
		}
		if best != nil && sb.Cluster.Cmp(best.Cluster) != 0 {
			return Superblock{}, fmt.Errorf("superblock copies %d and %d name different clusters (%s, %s)", best.Copy, c, best.Cluster, sb.Cluster)
		}
		if best == nil || sb.Sequence > best.Sequence {
			best = &sb
		}
	}
	if best == nil {
		return Superblock{}, fmt.Errorf("%w in the first %d bytes", ErrNotDataFile, n)
	}
	return *best, nil
}

func parseCopy(h []byte, copyIndex int) (Superblock, bool) {
	for _, b := range h[offChecksumPadding:offCopy] {
		if b != 0 {
			return Superblock{}, false
		}
	}
	sum := Checksum(h[checksummedFrom:])
	if string(sum[:]) != string(h[:16]) || int(binary.LittleEndian.Uint16(h[offCopy:])) != copyIndex {
		return Superblock{}, false
	}
	release := binary.LittleEndian.Uint32(h[offReleaseFormat:])
	return Superblock{
		Cluster:  leUint128(h[offCluster : offCluster+16]),
		Version:  binary.LittleEndian.Uint16(h[offVersion:]),
		Release:  fmt.Sprintf("%d.%d.%d", release>>16&0xffff, release>>8&0xff, release&0xff),
		Sequence: binary.LittleEndian.Uint64(h[offSequence:]),
		Copy:     copyIndex,
	}, true
}

func leUint128(b []byte) *big.Int {
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	return new(big.Int).SetBytes(be)
}
