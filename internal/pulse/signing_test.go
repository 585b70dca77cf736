package pulse

import (
	"strconv"
	"testing"
	"time"
)

func TestParseSignatureTimestamp(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"0", "1", "1764806400", "999999999999999999"} {
		if _, err := ParseSignatureTimestamp(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", " 1764806400", "1764806400 ", "01764806400", "+1764806400", "-1764806400",
		"1764806400.0", "1764806400.5", "1.7648064e9", "1764806400e0", "0x1A", "1_764_806_400", "17648 06400",
		"١٧٦٤٨٠٦٤٠٠", "9999999999999999999"} {
		if _, err := ParseSignatureTimestamp(bad); ErrorCode(err) != EUNAUTHORIZED {
			t.Errorf("%q: want EUNAUTHORIZED, got %v", bad, err)
		}
	}
}

func TestVerifySignatureWindow(t *testing.T) {
	t.Parallel()
	now := time.Unix(1764806400, 0)
	body := []byte(`{"a":1}`)
	check := func(offset time.Duration, want bool) {
		t.Helper()
		ts := strconv.FormatInt(now.Add(offset).Unix(), 10)
		err := VerifySignature([]string{"pss_s"}, ts, "v1="+Sign("pss_s", ts, body), body, now)
		if (err == nil) != want {
			t.Errorf("timestamp now%+v: err %v, want accepted=%v", offset, err, want)
		}
	}
	check(0, true)
	check(-MaxSignatureSkew, true)
	check(-MaxSignatureSkew-time.Second, false)
	check(MaxSignatureFutureSkew, true)
	check(MaxSignatureFutureSkew+time.Second, false)
	check(MaxSignatureSkew, false) // was accepted before the future bound
}

func TestSignedRequestKey(t *testing.T) {
	t.Parallel()
	a := SignedRequestKey("1", []byte("body"))
	if a != SignedRequestKey("1", []byte("body")) || a == SignedRequestKey("2", []byte("body")) ||
		a == SignedRequestKey("1", []byte("body2")) {
		t.Fatal("key must depend on exactly the timestamp and the body")
	}
}
