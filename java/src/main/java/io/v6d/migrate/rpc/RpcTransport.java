package io.v6d.migrate.rpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.luben.zstd.ZstdDecompressCtx;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.bounds.Ranges;
import io.v6d.migrate.ipc.Blob;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.ipc.FramedConnection;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.pool.ClientPool;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.shm.NativeMemory;
import io.v6d.migrate.transport.BlobTransfer;
import io.v6d.migrate.transport.BlobTransport;
import io.v6d.migrate.transport.ClientStreamReader;
import io.v6d.migrate.transport.StreamReader;
import io.v6d.migrate.transport.ProgressListener;
import io.v6d.migrate.transport.ThrottledProgress;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads blobs through the source vineyardd's own RPC port, as vineyard's RPC client does
 * ({@code get_remote_buffers_request}): the bytes follow the reply on the same connection, raw or,
 * when vineyardd offers compression, as zstd chunks (an 8-byte length, then compressed bytes) of
 * one stream that spans the whole reply. Either way they are written straight into the target
 * blobs' mappings. Needs nothing on the source host but vineyardd.
 */
public final class RpcTransport implements BlobTransport {
  /** vineyardd's chunks are at most ZSTD_CStreamOutSize() (~128 KiB); anything larger is refused. */
  private static final int MAX_COMPRESSED_CHUNK = 1 << 20;
  private static final int MAX_READ = 1 << 30;

  private final ClientPool.Lease lease;
  private final VineyardClient source;
  private final boolean compress;

  /**
   * Reads through the leased connection to the RPC port; ends the lease on {@link #close()} without
   * keeping the connection (vineyardd holds the blobs it sent over RPC for the connection).
   */
  public RpcTransport(ClientPool.Lease lease) {
    this.lease = lease;
    this.source = lease.client();
    this.compress = source.supportsCompression();
  }

  @Override
  public Map<Long, Long> sizes(long rootId, Collection<Long> sourceBlobIds) {
    Map<Long, Long> sizes = new LinkedHashMap<>();
    Map<Long, JsonNode> blobs = source.getDatas(sourceBlobIds, false);
    for (long id : sourceBlobIds) {
      JsonNode blob = blobs.get(id);
      if (blob == null) {
        throw new MigrateException(ErrorCode.OBJECT_NOT_EXISTS,
            "blob " + ObjectIds.format(id) + " does not exist on vineyardd at " + source.connection().peer());
      }
      long size = blob.path("length").asLong(blob.path("nbytes").asLong(0));
      sizes.put(id, Ranges.requireSize(size, ErrorCode.IO_ERROR,
          () -> "vineyardd at " + source.connection().peer() + " says blob " + ObjectIds.format(id)));
    }
    return sizes;
  }

  @Override
  public void transfer(List<BlobTransfer> transfers, ProgressListener progress) {
    long total = Ranges.total(transfers.stream().map(t -> t.target().size()).toList(), ErrorCode.INVALID,
        () -> "the blobs to read");
    ThrottledProgress landed = new ThrottledProgress(progress, total, 50_000_000L);
    ObjectNode request = FrameCodec.newMessage("get_remote_buffers_request")
        .put("num", transfers.size()).put("unsafe", false).put("compress", compress).put("use_rdma", false);
    for (int i = 0; i < transfers.size(); i++) {
      request.put(Integer.toString(i), new BigInteger(Long.toUnsignedString(transfers.get(i).sourceId())));
    }
    FramedConnection connection = source.connection();
    JsonNode reply = connection.call(request, "get_buffers_reply");
    JsonNode payloads = reply.path("payloads");
    boolean compressed = reply.path("compress").asBoolean(false);
    if (payloads.size() != transfers.size()) {
      throw new MigrateException(ErrorCode.OBJECT_NOT_EXISTS, "vineyardd at " + connection.peer() + " has "
          + payloads.size() + " of the " + transfers.size() + " blobs asked for");
    }
    try (ZstdDecompressCtx zstd = compressed ? new ZstdDecompressCtx() : null) {
      ByteBuffer chunk = compressed ? ByteBuffer.allocateDirect(MAX_COMPRESSED_CHUNK) : null;
      if (chunk != null) {
        chunk.limit(0);
      }
      for (int i = 0; i < transfers.size(); i++) {
        Blob target = transfers.get(i).target();
        long id = payloads.get(i).path("object_id").longValue();
        long size = payloads.get(i).path("data_size").asLong();
        if (id != transfers.get(i).sourceId() || size != target.size()) {
          throw new MigrateException(ErrorCode.ASSERTION_FAILED, "vineyardd at " + connection.peer() + " sent blob "
              + ObjectIds.format(id) + " of " + size + " bytes where " + ObjectIds.format(transfers.get(i).sourceId())
              + " of " + target.size() + " was expected");
        }
        for (long done = 0; done < size; ) {
          int n = (int) Math.min(MAX_READ, size - done);
          ByteBuffer into = NativeMemory.view(target.address() + done, n);
          if (compressed) {
            inflate(connection, zstd, chunk, into);
          } else {
            connection.readFully(into);
          }
          done += n;
          landed.add(n);
        }
      }
    }
  }

  /** Fills {@code into} from the zstd stream, reading chunks as the decompressor needs them. */
  private static void inflate(FramedConnection connection, ZstdDecompressCtx zstd, ByteBuffer chunk, ByteBuffer into) {
    ByteBuffer length = ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    while (into.hasRemaining()) {
      if (!chunk.hasRemaining()) {
        length.clear();
        connection.readFully(length);
        long n = length.getLong(0);
        if (n <= 0 || n > MAX_COMPRESSED_CHUNK) {
          throw new MigrateException(ErrorCode.IO_ERROR,
              "vineyardd at " + connection.peer() + " sent a compressed chunk of " + n + " bytes");
        }
        chunk.clear().limit((int) n);
        connection.readFully(chunk);
        chunk.flip();
      }
      zstd.decompressDirectByteBufferStream(into, chunk);
    }
  }

  @Override
  public StreamReader openStreamReader() {
    return new ClientStreamReader(lease.another());
  }

  @Override
  public String endpoint() {
    return "rpc://" + source.connection().peer();
  }

  @Override
  public String name() {
    return compress ? "rpc+zstd" : "rpc";
  }

  @Override
  public void close() {
    lease.close();
  }
}
