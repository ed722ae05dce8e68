package secretbox_test

import (
	"fmt"

	"github.com/latchkey/latchkey/pkg/secretbox"
)

func ExampleKeyring() {
	key, _ := secretbox.GenerateKey()
	ring, _ := secretbox.NewKeyring(key)
	ad := []byte("value:demo/acme/alice/access_token") // binds the value to its row
	ct, _ := ring.Encrypt([]byte("xoxp-token"), ad)
	pt, _ := ring.Decrypt(ct, ad)
	fmt.Println(string(pt))
	_, err := ring.Decrypt(ct, []byte("value:demo/acme/bob/access_token"))
	fmt.Println(err != nil)
	// Output:
	// xoxp-token
	// true
}
