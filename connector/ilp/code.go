package ilp

import (
	"encoding/binary"
	"fmt"
)

// Code is an ILP error code (RFC 0027): F = final, T = temporary, R = relative.
type Code string

// The error codes of RFC 0027.
const (
	F00BadRequest            Code = "F00"
	F01InvalidPacket         Code = "F01"
	F02Unreachable           Code = "F02"
	F03InvalidAmount         Code = "F03"
	F04InsufficientDestAmt   Code = "F04"
	F05WrongCondition        Code = "F05"
	F06UnexpectedPayment     Code = "F06"
	F07CannotReceive         Code = "F07"
	F08AmountTooLarge        Code = "F08"
	F99ApplicationError      Code = "F99"
	T00InternalError         Code = "T00"
	T01PeerUnreachable       Code = "T01"
	T02PeerBusy              Code = "T02"
	T03ConnectorBusy         Code = "T03"
	T04InsufficientLiquidity Code = "T04"
	T05RateLimited           Code = "T05"
	T99ApplicationError      Code = "T99"
	R00TransferTimedOut      Code = "R00"
	R01InsufficientSourceAmt Code = "R01"
	R02InsufficientTimeout   Code = "R02"
	R99ApplicationError      Code = "R99"
)

// ParseCode accepts any code of the form [FTR] followed by two digits: RFC 0027 lets applications use codes
// beyond the named ones, and a connector must relay them unchanged.
func ParseCode(s string) (Code, error) {
	if len(s) != 3 || (s[0] != 'F' && s[0] != 'T' && s[0] != 'R') ||
		s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' {
		return "", fmt.Errorf("ILP error code %q is not F, T or R followed by two digits", s)
	}
	switch Code(s) { // return the constant so decoding a known code does not allocate
	case F02Unreachable:
		return F02Unreachable, nil
	case F05WrongCondition:
		return F05WrongCondition, nil
	case F08AmountTooLarge:
		return F08AmountTooLarge, nil
	case T04InsufficientLiquidity:
		return T04InsufficientLiquidity, nil
	case R00TransferTimedOut:
		return R00TransferTimedOut, nil
	}
	return Code(s), nil
}

// AmountTooLargeData is the data of an F08 reject: the amount received and the most the connector accepts.
func AmountTooLargeData(received, maximum uint64) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, received)
	binary.BigEndian.PutUint64(b[8:], maximum)
	return b
}

// ParseAmountTooLarge reads the data of an F08 reject.
func ParseAmountTooLarge(data []byte) (received, maximum uint64, err error) {
	if len(data) != 16 {
		return 0, 0, fmt.Errorf("F08 data is %d bytes, want 16 (receivedAmount, maximumAmount as uint64)", len(data))
	}
	return binary.BigEndian.Uint64(data), binary.BigEndian.Uint64(data[8:]), nil
}
