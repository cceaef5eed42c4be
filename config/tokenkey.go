package config

import "errors"

// ParseTokenKey reads a token key the way token.key_file is read: exactly 32 raw bytes, or
// base64 (standard or URL alphabet, padded or not, surrounded by whitespace) of 32 bytes.
// `xerosync rotate-key --new FILE` reads the new key with it, so that any file the operator
// can later name in token.key_file is accepted, and no other.
func ParseTokenKey(data []byte) ([]byte, error) {
	key, msg := parseTokenKey(data)
	if msg != "" {
		return nil, errors.New(msg)
	}
	return key, nil
}
