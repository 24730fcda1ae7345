// Package privfile keeps a service's data files private to the user that
// runs it.
//
// A data directory holds the databases (with the node's hub credential in
// node.db), the signing key and the admin token. Their directory being 0700
// is not enough: a container volume, a directory an operator made by hand or
// a restored backup can be readable by everyone, and then so are files
// created with the usual 0644. Every such file is therefore created 0600 and
// any existing one is brought back to 0600 when the service opens it.
package privfile
