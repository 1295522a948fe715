package io.v6d.migrate.meta;

/** A blob named in a metadata tree, with the instance the tree says holds it. */
public record BlobRef(long id, long instanceId) {}
