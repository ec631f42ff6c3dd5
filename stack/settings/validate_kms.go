package settings

import (
	"errors"
	"regexp"
)

// Validators of the per-chain KMS key settings and of the Compose project name.
var (
	gcpLocationPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	// Cloud KMS key ring and key ids.
	gcpNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,63}$`)
	// Key Vault object names.
	azureKeyNamePattern = regexp.MustCompile(`^[a-zA-Z0-9-]{1,127}$`)
	// Compose's rule for a project name.
	projectNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
)

func validGCPLocation(s string) error {
	if !gcpLocationPattern.MatchString(s) {
		return errors.New("must be a Cloud KMS location such as global or us-east1")
	}
	return nil
}

func validGCPName(s string) error {
	if !gcpNamePattern.MatchString(s) {
		return errors.New("must be a Cloud KMS id: 1-63 of a-z, A-Z, 0-9, _ and -")
	}
	return nil
}

func validAzureKeyName(s string) error {
	if !azureKeyNamePattern.MatchString(s) {
		return errors.New("must be a Key Vault key name: 1-127 of a-z, A-Z, 0-9 and -")
	}
	return nil
}

func validProjectName(s string) error {
	if !projectNamePattern.MatchString(s) {
		return errors.New("must be a Compose project name: lower-case a-z, 0-9, _ and -, starting with a letter or digit")
	}
	return nil
}
