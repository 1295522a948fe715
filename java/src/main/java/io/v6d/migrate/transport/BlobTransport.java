package io.v6d.migrate.transport;

import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * How the bytes of source blobs reach target blobs. The engine asks for the sizes first (to
 * allocate the target blobs), then hands over the mapped, unsealed target blobs to fill.
 */
public interface BlobTransport extends AutoCloseable {
  /**
   * Size in bytes of each source blob, by id; fails when one does not exist on the source. The
   * blobs are reachable from object {@code rootId} (or are chunks a stream of this transport gave):
   * an agent serves no other blobs.
   */
  Map<Long, Long> sizes(long rootId, Collection<Long> sourceBlobIds);

  /**
   * {@link #sizes} of the blobs of many objects (blob ids by the root they are reached from), in
   * as few requests as the transport can: a batch asks once per source instance. A blob reached
   * from two roots is asked once.
   */
  default Map<Long, Long> sizesOf(Map<Long, ? extends Collection<Long>> blobsByRoot) {
    Map<Long, Long> sizes = new java.util.LinkedHashMap<>();
    blobsByRoot.forEach((root, blobs) -> sizes.putAll(sizes(root, blobs.stream().filter(b -> !sizes.containsKey(b)).toList())));
    return sizes;
  }

  /** Fills every target blob with its source blob's bytes. */
  void transfer(List<BlobTransfer> transfers, ProgressListener progress);

  /** Lets the source free blobs this transport holds references to (stream chunks, once copied). */
  default void release(Collection<Long> sourceBlobIds) {}

  /** A reader of a stream held by the same instance, on a connection of its own. */
  StreamReader openStreamReader();

  /** The source instance as a migration request names it: an IPC socket, tcp:// or rpc:// endpoint. */
  String endpoint();

  /** A short name for logs and results ("local", "tcp", ...). */
  String name();

  /** What crossed an agent link: frame bytes, the negotiated compression, TLS. */
  record Wire(long bytes, String compression, boolean tls) {}

  /** What this transport's connections carried so far; null when it is not an agent link. */
  default Wire wire() {
    return null;
  }

  @Override
  void close();
}
