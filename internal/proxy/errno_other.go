//go:build !unix

package proxy

import "errors"

// Descriptor-exhaustion errnos do not exist here; these never match.
var (
	errEMFILE       = errors.New("proxy: EMFILE")
	errENFILE       = errors.New("proxy: ENFILE")
	errECONNABORTED = errors.New("proxy: ECONNABORTED")
)
