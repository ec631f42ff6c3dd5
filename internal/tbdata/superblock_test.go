package tbdata_test

import (
	"bytes"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/internal/tbdata"
	"github.com/m2mnet/m2m/internal/tbdata/tbdatatest"
)

func TestReadFindsTheCluster(t *testing.T) {
	max128, _ := new(big.Int).SetString("340282366920938463463374607431768211455", 10)
	for _, cluster := range []*big.Int{big.NewInt(0), big.NewInt(1), max128} {
		sb, err := tbdata.Read(bytes.NewReader(tbdatatest.Zone(cluster, 4)))
		if err != nil {
			t.Fatalf("cluster %s: %v", cluster, err)
		}
		if sb.Cluster.Cmp(cluster) != 0 || sb.Version != 2 || sb.Release != "0.17.9" || sb.Sequence != 4 {
			t.Errorf("cluster %s: read %+v", cluster, sb)
		}
	}
}

func TestReadSkipsADamagedCopy(t *testing.T) {
	z := tbdatatest.Zone(big.NewInt(77), 1)
	z[tbdatatest.OffsetCluster] ^= 0xff // copy 0 now names another cluster, and its checksum no longer holds
	sb, err := tbdata.Read(bytes.NewReader(z))
	if err != nil || sb.Cluster.Int64() != 77 || sb.Copy != 1 {
		t.Fatalf("Read = %+v, %v; want cluster 77 from copy 1", sb, err)
	}
}

func TestReadRefusesWhatIsNotADataFile(t *testing.T) {
	damaged := tbdatatest.Zone(big.NewInt(5), 1)
	for c := range tbdatatest.Copies {
		damaged[c*tbdatatest.CopySize+tbdatatest.HeaderSize-1] ^= 1
	}
	standin := "TIGERBEETLE-STANDIN\ncluster=0 replica=0 replica-count=1\n" + strings.Repeat("\xab", 64<<10) + "\nEND\n"
	for name, data := range map[string][]byte{"every copy damaged": damaged, "the test stand-in's file": []byte(standin), "empty": nil} {
		if sb, err := tbdata.Read(bytes.NewReader(data)); !errors.Is(err, tbdata.ErrNotDataFile) {
			t.Errorf("%s: Read = %+v, %v; want tbdata.ErrNotDataFile", name, sb, err)
		}
	}
}

func TestReadNeedsOnlyTheFirstCopy(t *testing.T) {
	sb, err := tbdata.Read(bytes.NewReader(tbdatatest.Zone(big.NewInt(9), 1)[:tbdatatest.HeaderSize]))
	if err != nil || sb.Cluster.Int64() != 9 {
		t.Fatalf("tbdata.Read(first copy only) = %+v, %v", sb, err)
	}
}
