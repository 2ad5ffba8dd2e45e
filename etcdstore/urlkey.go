package etcdstore

import (
	"context"
	"crypto/rand"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pxekit/pxekit/pxe"
)

// urlKeyLen is the size of the signing key the first server creates.
const urlKeyLen = 32

// URLKey returns the key every server of the cluster signs per-machine
// file URLs with (pxe.Config.URLKey), creating a random one if etcd holds
// none: a URL signed by one server is honoured by the others.
func (c *Cluster) URLKey(ctx context.Context) ([]byte, error) {
	k := c.prefix + "/urlkey"
	key := make([]byte, urlKeyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	rctx, cancel := c.reqCtx(ctx)
	defer cancel()
	r, err := c.cli.Txn(rctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, string(key))).Else(clientv3.OpGet(k)).Commit()
	if err != nil {
		return nil, fmt.Errorf("etcdstore: URL key: %w", err)
	}
	if r.Succeeded {
		return key, nil
	}
	kvs := r.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 || len(kvs[0].Value) < pxe.MinURLKeyLen {
		return nil, fmt.Errorf("etcdstore: URL key %s: shorter than %d bytes", k, pxe.MinURLKeyLen)
	}
	return kvs[0].Value, nil
}
