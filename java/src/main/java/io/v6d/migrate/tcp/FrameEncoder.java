package io.v6d.migrate.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.protocol.FrameHeader;
import java.io.IOException;

/** Control frames out: header, then the JSON body. DATA frames are written by {@link ChunkWriter}. */
@ChannelHandler.Sharable
public final class FrameEncoder extends MessageToByteEncoder<Object> {
  @Override
  public boolean acceptOutboundMessage(Object msg) {
    return msg instanceof ControlFrame || msg instanceof ReadRequest;
  }

  @Override
  protected void encode(ChannelHandlerContext ctx, Object msg, ByteBuf out) throws IOException {
    if (msg instanceof ReadRequest read) {
      new FrameHeader(io.v6d.migrate.protocol.FrameType.READ, read.length(), read.blobId(), read.offset(), 0)
          .writeTo(out);
      return;
    }
    ControlFrame frame = (ControlFrame) msg;
    byte[] body = FrameCodec.mapper().writeValueAsBytes(frame.body());
    FrameHeader.control(frame.type(), body.length).writeTo(out);
    out.writeBytes(body);
  }
}
