// Package sqlitedb opens the SQLite databases used by both the hub and the
// nodes, and brings their schema up to date.
//
// Every database is opened twice on the same file: a single-connection writer
// pool and a multi-connection reader pool. SQLite allows only one writer at a
// time, so funnelling all writes through one connection turns lock contention
// (SQLITE_BUSY after a timeout) into ordinary queueing inside database/sql,
// while WAL mode lets the readers keep serving consistent snapshots while that
// writer works. The reader connections are query_only so that a write issued
// on the wrong pool fails loudly instead of competing for the write lock.
//
// Connection settings are passed as _pragma parameters in the DSN rather than
// executed after opening, because database/sql opens connections lazily and
// replaces them at will; only the DSN is guaranteed to reach every connection.
//
// Migrations are plain SQL files named with a leading version number
// ("0001_init.sql"). Each pending file runs in its own write transaction
// together with the row recording it in schema_migrations, so a failed
// migration leaves no trace and is retried on the next Open. Because of that
// transaction a migration must not contain BEGIN/COMMIT of its own, and
// PRAGMA foreign_keys cannot be changed from within one.
//
// A package that owns tables of its own in whichever database uses it brings
// them as a named set through MigrateSet. A set is numbered on its own and
// recorded in schema_migration_sets, apart from schema_migrations, so it never
// competes with the database's own version numbers.
package sqlitedb
