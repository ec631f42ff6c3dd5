//go:build cgo

package ledger

// #include <stdint.h>
import "C"

import (
	"context"
	"log/slog"
	"strings"
	"unsafe"
)

// m2mTigerBeetleLog receives one line from the native client, on the client's own thread. The client formats
// it as "(scope): message" — "(message_bus): 1234…: on_connect: error to=0 error.ConnectionRefused".
//
//export m2mTigerBeetleLog
func m2mTigerBeetleLog(level C.int, message *C.uint8_t, length C.uint32_t) {
	log := nativeLog.Load()
	if log == nil {
		return
	}
	text := C.GoStringN((*C.char)(unsafe.Pointer(message)), C.int(length))
	scope := "default"
	if rest, ok := strings.CutPrefix(text, "("); ok {
		if s, msg, ok := strings.Cut(rest, "): "); ok {
			scope, text = s, msg
		}
	} else {
		text = strings.TrimPrefix(text, ": ")
	}
	log.Log(context.Background(), nativeLevel(int(level)), text, "source", "tigerbeetle-client", "scope", scope)
}

// nativeLevel maps TB_LOG_LEVEL (0 err, 1 warn, 2 info, 3 debug) to slog's.
func nativeLevel(l int) slog.Level {
	switch l {
	case 0:
		return slog.LevelError
	case 1:
		return slog.LevelWarn
	case 2:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}
