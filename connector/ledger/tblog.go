//go:build cgo

package ledger

/*
#include <stdint.h>
#include <stdbool.h>

extern void m2mTigerBeetleLog(int level, uint8_t *message, uint32_t length);

// Declared weak: the definition is in the TigerBeetle client's archive, which tigerbeetle-go links into the
// program (in the same object as tb_client_init); this package's own cgo link check cannot see it.
int tb_client_register_log_callback(void (*callback)(int, const uint8_t *, uint32_t), bool debug) __attribute__((weak));

// m2m_register_tb_log returns 0 on success, 1 if a callback is already registered, -1 if the function is absent.
static int m2m_register_tb_log(void) {
	if (tb_client_register_log_callback == 0) {
		return -1;
	}
	return tb_client_register_log_callback((void (*)(int, const uint8_t *, uint32_t))m2mTigerBeetleLog, false);
}
*/
import "C"

import (
	"log/slog"
	"sync"
	"sync/atomic"
)

// The native client logs through one callback per process (tb_client_register_log_callback); without one it
// writes its warnings and errors to stderr itself, as `warning(message_bus): …` lines between the connector's
// JSON lines. So this state is process-wide, as the callback is: the logger of the latest TigerBeetle ledger.
var (
	nativeLog      atomic.Pointer[slog.Logger]
	nativeLogSetUp sync.Once
	nativeRouted   atomic.Bool
)

// routeNativeLog sends the native client's log lines to log from now on. It reports whether the callback is in
// place; if not, the lines keep going to stderr.
func routeNativeLog(log *slog.Logger) bool {
	nativeLog.Store(log)
	nativeLogSetUp.Do(func() { nativeRouted.Store(C.m2m_register_tb_log() == 0) })
	return nativeRouted.Load()
}
