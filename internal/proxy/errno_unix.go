//go:build unix

package proxy

import "syscall"

const (
	errEMFILE       = syscall.EMFILE
	errENFILE       = syscall.ENFILE
	errECONNABORTED = syscall.ECONNABORTED
)
