package io.v6d.migrate.protocol;

import io.netty.buffer.ByteBuf;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;

/**
 * The fixed 32-byte header of every agent frame (network byte order):
 *
 * <pre>
 *  0  u16 magic 'VM'   2  u8 type   3  u8 flags
 *  4  u32 length       (JSON body bytes; DATA payload bytes; READ: bytes asked for)
 *  8  u64 id           (blob id, for DATA and READ)
 * 16  u64 offset       (within the blob)
 * 24  u32 crc32c       (of a DATA payload)
 * 28  u32 reserved
 * </pre>
 */
public record FrameHeader(FrameType type, int length, long id, long offset, int crc) {
  public static final int BYTES = 32;
  static final int MAGIC = 0x564D;

  public static FrameHeader control(FrameType type, int length) {
    return new FrameHeader(type, length, 0, 0, 0);
  }

  public void writeTo(ByteBuf out) {
    out.writeShort(MAGIC).writeByte(type.code()).writeByte(0).writeInt(length)
        .writeLong(id).writeLong(offset).writeInt(crc).writeInt(0);
  }

  /**
   * Reads a header from exactly {@link #BYTES} readable bytes; anything that is not a header of
   * this protocol, or a length out of bounds for its type, is refused here, before allocation.
   */
  public static FrameHeader readFrom(ByteBuf in, Limits limits) {
    int magic = in.readUnsignedShort();
    FrameType type = FrameType.of(in.readUnsignedByte());
    in.skipBytes(1);
    long length = in.readUnsignedInt();
    long id = in.readLong();
    long offset = in.readLong();
    int crc = in.readInt();
    in.skipBytes(4);
    if (magic != MAGIC || type == null) {
      throw new MigrateException(ErrorCode.IO_ERROR, "not a vineyard-migrate frame");
    }
    long max = type.hasJsonBody() ? limits.maxControlBytes() : limits.maxChunkBytes();
    if (length > max) {
      throw new MigrateException(
          ErrorCode.IO_ERROR, type + " frame of " + length + " bytes is over the limit of " + max);
    }
    if (offset < 0) {
      throw new MigrateException(ErrorCode.IO_ERROR, type + " frame with a negative offset");
    }
    return new FrameHeader(type, (int) length, id, offset, crc);
  }

  /** Bounds on what a peer may announce, checked before anything is allocated for it. */
  public record Limits(long maxControlBytes, long maxChunkBytes) {}
}
