package io.v6d.migrate.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.v6d.migrate.MigrateException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class FrameHeaderTest {
  private static final FrameHeader.Limits LIMITS = new FrameHeader.Limits(1024, 4096);

  @Test
  void roundTripsInThirtyTwoBytes() {
    FrameHeader header = new FrameHeader(FrameType.DATA, 4000, 0x8000000000000123L, 1L << 40, 0xCAFEBABE);
    ByteBuf buf = Unpooled.buffer();
    header.writeTo(buf);
    assertEquals(FrameHeader.BYTES, buf.readableBytes());
    assertEquals(header, FrameHeader.readFrom(buf, LIMITS));
  }

  @Test
  void refusesWhatIsNotAFrameOrTooLong() {
    assertThrows(MigrateException.class, () -> FrameHeader.readFrom(Unpooled.wrappedBuffer(new byte[32]), LIMITS));
    assertThrows(MigrateException.class, () -> read(FrameType.REQUEST, 1025));
    assertThrows(MigrateException.class, () -> read(FrameType.DATA, 4097));
    assertThrows(MigrateException.class, () -> read(FrameType.DATA, 0xFFFFFFFFL)); // unsigned on the wire
    assertEquals(4096, read(FrameType.DATA, 4096).length());
  }

  private static FrameHeader read(FrameType type, long length) {
    ByteBuf buf = Unpooled.buffer();
    buf.writeShort(FrameHeader.MAGIC).writeByte(type.code()).writeByte(0).writeInt((int) length)
        .writeLong(0).writeLong(0).writeInt(0).writeInt(0);
    return FrameHeader.readFrom(buf, LIMITS);
  }

  @Test
  void proofsNeedTheTokenAndAreNotInterchangeable() {
    byte[] token = "a-token-of-enough-length".getBytes(StandardCharsets.UTF_8);
    byte[] agent = Handshake.nonce();
    byte[] client = Handshake.nonce();
    byte[] clientProof = Handshake.clientProof(token, agent, client);
    assertArrayEquals(clientProof, Handshake.clientProof(token, agent, client));
    assertFalse(Handshake.matches(clientProof, Handshake.agentProof(token, agent, client)));
    assertNotEquals(
        java.util.HexFormat.of().formatHex(clientProof),
        java.util.HexFormat.of().formatHex(Handshake.clientProof("another-token-of-length".getBytes(), agent, client)));
    assertTrue(Handshake.matches(clientProof, clientProof.clone()));
    assertFalse(Handshake.matches(clientProof, null));
    assertThrows(MigrateException.class, () -> Handshake.clientProof(token, new byte[3], client));
  }
}
