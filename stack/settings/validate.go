package settings

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	nodeIDPattern     = regexp.MustCompile(`^[a-z][a-z0-9-]{2,63}$`)
	ilpAddressPattern = regexp.MustCompile(`^(g|private|example|peer|self|test|test1|test2|test3|local)(\.[a-zA-Z0-9_~-]+)+$`)
	clusterIDPattern  = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)
	sizePattern       = regexp.MustCompile(`^[1-9][0-9]*(KiB|MiB|GiB|TiB)?$`)
	uuidPattern       = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	hexKeyPattern     = regexp.MustCompile(`^0x[0-9a-fA-F]{64}$`)
	awsRegionPattern  = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-[0-9]$`)
	// An image reference: [registry[:port]/]path[:tag][@digest]; lower-case path components.
	imagePattern = regexp.MustCompile(`^([a-zA-Z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$`)
	// A cluster id fits in 128 bits: at most 39 decimal digits.
	maxUint128 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
)

func validNodeID(s string) error {
	if !nodeIDPattern.MatchString(s) {
		return errors.New("must be 3-64 characters of a-z, 0-9 and '-', starting with a letter")
	}
	return nil
}

// validILPAddress checks RFC 0015: a known scheme, dot-separated segments of [a-zA-Z0-9_~-], at most 1023 bytes.
func validILPAddress(s string) error {
	if len(s) > 1023 || !ilpAddressPattern.MatchString(s) {
		return errors.New("must be an ILP address such as g.m2m.mynode: scheme g, test or private, then .segments of a-z, A-Z, 0-9, _ ~ -")
	}
	return nil
}

func validEd25519Seed(s string) error {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 32 {
		return errors.New("must be base64 of a 32-byte ed25519 seed; run m2mctl init to make one")
	}
	return nil
}

func validPort(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 {
		return errors.New("must be a port number 1-65535 (0 lets Docker pick a free one)")
	}
	return nil
}

func validUint(s string) error {
	if _, err := strconv.ParseUint(s, 10, 64); err != nil {
		return errors.New("must be a whole number ≥ 0")
	}
	return nil
}

func validMaxPeers(s string) error {
	if n, err := strconv.Atoi(s); err != nil || n < 1 || n > 1000 {
		return errors.New("must be a whole number from 1 to 1000, such as 8")
	}
	return nil
}

func validBool(s string) error {
	_, err := ParseBool(s)
	return err
}

func validInterval(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Second || d > 110*time.Second {
		return errors.New("must be a duration between 1s and 110s (inside the registry's 120 s TTL), such as 60s")
	}
	return nil
}

// validClusterID is TigerBeetle's own rule for --cluster: 0 or a decimal without leading zeros or sign, at most
// 2^128-1. 0 is what TigerBeetle's guides format with; `m2mctl config` says a random id is better for new ledgers.
func validClusterID(s string) error {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || !clusterIDPattern.MatchString(s) || n.Cmp(maxUint128) > 0 {
		return errors.New("must be 0 or a decimal number without leading zeros up to 2^128-1; run m2mctl init to make a random one")
	}
	return nil
}

func validHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return errors.New("must be host:port, such as tigerbeetle:3000")
	}
	return validPort(port)
}

func validSize(s string) error {
	if !sizePattern.MatchString(s) {
		return errors.New("must be a size such as 512MiB or 1GiB")
	}
	return nil
}

func validImage(s string) error {
	if !imagePattern.MatchString(s) {
		return errors.New("must be an image reference such as registry.example.com/m2m/connector:1.2.3")
	}
	return nil
}

func validPassword(s string) error {
	if len(s) < 12 {
		return errors.New("must be at least 12 characters; run m2mctl init to make one")
	}
	return nil
}

func validUUID(s string) error {
	if !uuidPattern.MatchString(s) {
		return errors.New("must be a UUID such as 00000000-0000-0000-0000-000000000000")
	}
	return nil
}

func validHexKey(s string) error {
	if !hexKeyPattern.MatchString(s) {
		return errors.New("must be 0x followed by 64 hex digits")
	}
	return nil
}

func validAWSRegion(s string) error {
	if !awsRegionPattern.MatchString(s) {
		return errors.New("must be an AWS region such as eu-west-1")
	}
	return nil
}

func validURL(schemes ...string) func(string) error {
	return func(s string) error {
		u, err := url.Parse(s)
		if err != nil || u.Hostname() == "" || !slices.Contains(schemes, u.Scheme) {
			return fmt.Errorf("must be a URL starting with %s://", strings.Join(schemes, ":// or "))
		}
		return nil
	}
}

func validURLList(schemes ...string) func(string) error {
	one := validURL(schemes...)
	return func(s string) error {
		for i, item := range strings.Split(s, ",") {
			if err := one(strings.TrimSpace(item)); err != nil {
				return fmt.Errorf("item %d (%q) %w", i+1, strings.TrimSpace(item), err)
			}
		}
		return nil
	}
}
