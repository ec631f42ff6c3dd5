package settings

import (
	"errors"
	"strings"
)

// LetsEncryptDirectory is ACME_CA's default.
const LetsEncryptDirectory = "https://acme-v02.api.letsencrypt.org/directory"

func validDomain(s string) error {
	if len(s) > 253 || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return errors.New("must be a DNS name such as node.example.com")
	}
	for _, r := range s {
		if !(r == '.' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return errors.New("must be a DNS name such as node.example.com (letters, digits, '-' and '.'; no scheme or port)")
		}
	}
	return nil
}

func validEmail(s string) error {
	at := strings.IndexByte(s, '@')
	if at < 1 || at == len(s)-1 || strings.ContainsAny(s, " \t<>") {
		return errors.New("must be an email address such as ops@example.com")
	}
	return nil
}
