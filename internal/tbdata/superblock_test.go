package tbdata

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/big"
	"strings"
	"testing"
)

// zone lays out a freshly formatted superblock zone as TigerBeetle 0.17.9 writes it (src/vsr/superblock.zig):
// four copies, each a SuperBlockHeader with its copy index and the checksum over the bytes after `copy`.
func zone(cluster *big.Int, sequence uint64) []byte {
	buf := make([]byte, ZoneSize)
	for c := range superblockCopies {
		h := buf[c*copySize : c*copySize+headerSize]
		binary.LittleEndian.PutUint16(h[offCopy:], uint16(c))
		binary.LittleEndian.PutUint16(h[offVersion:], 2)
		binary.LittleEndian.PutUint32(h[offReleaseFormat:], 0<<16|17<<8|9)
		binary.LittleEndian.PutUint64(h[offSequence:], sequence)
		be := cluster.FillBytes(make([]byte, 16))
		for i := range 16 {
			h[offCluster+i] = be[15-i]
		}
		h[offCluster+16+5] = 0xa5 // the parent checksum: any bytes under the checksum
		sum := checksum(h[checksummedFrom:])
		copy(h, sum[:])
	}
	return buf
}

func TestReadFindsTheCluster(t *testing.T) {
	max128, _ := new(big.Int).SetString("340282366920938463463374607431768211455", 10)
	for _, cluster := range []*big.Int{big.NewInt(0), big.NewInt(1), max128} {
		sb, err := Read(bytes.NewReader(zone(cluster, 4)))
		if err != nil {
			t.Fatalf("cluster %s: %v", cluster, err)
		}
		if sb.Cluster.Cmp(cluster) != 0 || sb.Version != 2 || sb.Release != "0.17.9" || sb.Sequence != 4 {
			t.Errorf("cluster %s: read %+v", cluster, sb)
		}
	}
}

func TestReadSkipsADamagedCopy(t *testing.T) {
	z := zone(big.NewInt(77), 1)
	z[offCluster] ^= 0xff // copy 0 now names another cluster, and its checksum no longer holds
	sb, err := Read(bytes.NewReader(z))
	if err != nil || sb.Cluster.Int64() != 77 || sb.Copy != 1 {
		t.Fatalf("Read = %+v, %v; want cluster 77 from copy 1", sb, err)
	}
}

func TestReadRefusesWhatIsNotADataFile(t *testing.T) {
	damaged := zone(big.NewInt(5), 1)
	for c := range superblockCopies {
		damaged[c*copySize+headerSize-1] ^= 1
	}
	standin := "TIGERBEETLE-STANDIN\ncluster=0 replica=0 replica-count=1\n" + strings.Repeat("\xab", 64<<10) + "\nEND\n"
	for name, data := range map[string][]byte{"every copy damaged": damaged, "the test stand-in's file": []byte(standin), "empty": nil} {
		if sb, err := Read(bytes.NewReader(data)); !errors.Is(err, ErrNotDataFile) {
			t.Errorf("%s: Read = %+v, %v; want ErrNotDataFile", name, sb, err)
		}
	}
}

func TestReadNeedsOnlyTheFirstCopy(t *testing.T) {
	sb, err := Read(bytes.NewReader(zone(big.NewInt(9), 1)[:headerSize]))
	if err != nil || sb.Cluster.Int64() != 9 {
		t.Fatalf("Read(first copy only) = %+v, %v", sb, err)
	}
}
