package settings

import (
	"strings"
	"testing"
)

// The test cases of EIP-55 (https://eips.ethereum.org/EIPS/eip-55).
var eip55Vectors = []string{
	"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
	"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
	"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
	"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
}

func TestEIP55ReproducesThePublishedChecksums(t *testing.T) {
	for _, want := range eip55Vectors {
		if got := "0x" + eip55(strings.ToLower(want[2:])); got != want {
			t.Errorf("eip55(%s) = %s, want %s", strings.ToLower(want), got, want)
		}
	}
}

func TestValidateEVMAddressAcceptsPublishedAddresses(t *testing.T) {
	valid := append([]string{
		// The EIP's all-caps and all-lower examples: no checksum to check.
		"0x52908400098527886E0F7030069857D2E4169EE7",
		"0x8617E340B3D01FA5F11F306F4090FD50E238070D",
		"0xde709f2102306220921060314715629080e2fb77",
		"0x27b1fdb04752bbc536007a920d24acb045561c26",
	}, eip55Vectors...)
	for _, a := range valid {
		if err := ValidateEVMAddress(a); err != nil {
			t.Errorf("ValidateEVMAddress(%s) = %v, want nil", a, err)
		}
	}
}

func TestValidateEVMAddressRejectsAWrongCaseInAChecksummedAddress(t *testing.T) {
	for _, a := range eip55Vectors {
		for i := 2; i < len(a); i++ {
			c := a[i]
			var flipped byte
			switch {
			case c >= 'a' && c <= 'f':
				flipped = c - 'a' + 'A'
			case c >= 'A' && c <= 'F':
				flipped = c - 'A' + 'a'
			default:
				continue
			}
			bad := a[:i] + string(flipped) + a[i+1:]
			if bad == strings.ToLower(bad) || bad == strings.ToUpper(bad) {
				continue // flipping made it single-case: no checksum left to fail
			}
			err := ValidateEVMAddress(bad)
			if err == nil || !strings.Contains(err.Error(), "checksum") {
				t.Errorf("ValidateEVMAddress(%s) = %v, want a checksum error", bad, err)
			}
		}
	}
}

func TestValidateEVMAddressRejectsBadShapes(t *testing.T) {
	for _, a := range []string{
		"",
		"5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",    // no 0x
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",   // 39 digits
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAedd", // 41 digits
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg",  // not hex
		"0x 5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",  // space
		"1x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",  // wrong prefix
	} {
		if err := ValidateEVMAddress(a); err == nil {
			t.Errorf("ValidateEVMAddress(%q) = nil, want an error", a)
		}
	}
}

// Known-good classic addresses: the genesis account, a well-known account, and the special addresses of the
// XRP Ledger documentation (ACCOUNT_ZERO, ACCOUNT_ONE, the name-reservation and NaN black holes).
var xrpVectors = []string{
	"rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh",
	"rPT1Sjq2YGrBMTttX4GZHjKu9dyfzbpAYe",
	"rrrrrrrrrrrrrrrrrrrrrhoLvTp",
	"rrrrrrrrrrrrrrrrrrrrBZbvji",
	"rrrrrrrrrrrrrrrrrNAMEtxvNvQ",
	"rrrrrrrrrrrrrrrrrrrn5RM1rHd",
}

func TestValidateXRPAddressAcceptsKnownAddresses(t *testing.T) {
	for _, a := range xrpVectors {
		if err := ValidateXRPAddress(a); err != nil {
			t.Errorf("ValidateXRPAddress(%s) = %v, want nil", a, err)
		}
	}
}

func TestValidateXRPAddressRejectsEveryOneCharacterCorruption(t *testing.T) {
	for _, a := range xrpVectors[:2] {
		for i := 1; i < len(a); i++ {
			// Replace the character with its neighbour in the alphabet: still base58, wrong checksum.
			j := strings.IndexByte(rippleAlphabet, a[i])
			bad := a[:i] + string(rippleAlphabet[(j+1)%len(rippleAlphabet)]) + a[i+1:]
			if err := ValidateXRPAddress(bad); err == nil {
				t.Errorf("ValidateXRPAddress(%s) (position %d changed) = nil, want an error", bad, i)
			}
		}
		// Two neighbours swapped.
		bad := a[:5] + string(a[6]) + string(a[5]) + a[7:]
		if err := ValidateXRPAddress(bad); err == nil {
			t.Errorf("ValidateXRPAddress(%s) (swap) = nil, want an error", bad)
		}
	}
}

func TestValidateXRPAddressNamesTheProblem(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"", "classic address"},
		{"rHb9CJAWyB4rj91VRWn96DkukG4bwdtyT0", "not in the XRP base58 alphabet"},
		{"rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTl", "not in the XRP base58 alphabet"},
		{"sHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh", "classic address"},
		{"X7AcgcsBL6XDcUb289X4mJ8djcdyKaB5hJDWMArnXr61cqZ", "X-address"},
		{"rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTi", "checksum"},
		{"rHb9CJAWyB4rj91VRWn96DkukG4bwdtyThh", "wrong length"},
	}
	for _, tt := range tests {
		err := ValidateXRPAddress(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ValidateXRPAddress(%q) = %v, want an error containing %q", tt.in, err, tt.want)
		}
	}
}
