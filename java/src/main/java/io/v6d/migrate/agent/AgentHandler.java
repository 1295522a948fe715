package io.v6d.migrate.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.faults.FaultInjection;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.protocol.FrameType;
import io.v6d.migrate.tcp.ControlFrame;
import io.v6d.migrate.tcp.FrameDecoder;
import io.v6d.migrate.tcp.ReadRequest;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One authenticated peer of the agent. Runs on a blocking executor of its own (never on an event
 * loop), since it talks to vineyardd over IPC: requests are answered in order, each by the part
 * whose concern it is -- the source side ({@link SourceRequests}: metadata, map, READ, unmap), a
 * push into this agent's vineyardd ({@link PushRequests}), an agent-run pull ({@link PullSessionRequests})
 * -- and the link's own requests and streams here. What a peer may map and READ is its
 * {@link PeerScope}'s to say; what it may commit, {@link CommitCheck}'s.
 */
final class AgentHandler extends ChannelInboundHandlerAdapter {
  private static final Logger LOG = LoggerFactory.getLogger(AgentHandler.class);

  private final AgentServer server;
  private final PeerScope scope;
  private final SourceRequests source;
  /** Set while waiting for a stream's next chunk, which may take as long as its producer. */
  private final AtomicBoolean waitingForStream;
  private VineyardClient vineyard;
  /** A connection of its own for reading a stream: a pull waits inside vineyardd. */
  private volatile VineyardClient streamReader;
  /** The stream whose next chunk this connection awaits, else null. */
  private volatile Long chunkAwaited;
  private final PushRequests push;
  private final PullSessionRequests pulls;

  AgentHandler(AgentServer server, FrameDecoder decoder, AtomicBoolean waitingForStream) {
    this.server = server;
    this.waitingForStream = waitingForStream;
    this.scope = new PeerScope(server.grants());
    this.source = new SourceRequests(scope, this::vineyard);
    this.push = new PushRequests(server, decoder, this::vineyard);
    this.pulls = new PullSessionRequests(server, waitingForStream);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof ReadRequest read) {
      source.serve(ctx, read);
    } else if (msg instanceof ControlFrame frame && frame.type() == FrameType.REQUEST) {
      try {
        JsonNode reply = handle(ctx, frame.body());
        if (reply != null) {
          ctx.writeAndFlush(new ControlFrame(FrameType.REPLY, reply));
        }
      } catch (MigrateException e) {
        LOG.debug("{} failed: {}", frame.body().path("op").asText(), e.getMessage());
        ctx.writeAndFlush(error(e.code(), e.getMessage()));
      }
    } else {
      ctx.writeAndFlush(error(ErrorCode.INVALID, "unexpected frame")).addListener(ChannelFutureListener.CLOSE);
    }
  }

  private JsonNode handle(ChannelHandlerContext ctx, JsonNode request) {
    String op = request.path("op").asText();
    if (chunkAwaited != null) { // the stream reader's connection is busy: one request at a time
      throw new MigrateException(ErrorCode.INVALID, "'" + op + "' arrived while this connection awaits the next chunk"
          + " of stream " + ObjectIds.format(chunkAwaited) + ": send nothing else on it until that is answered");
    }
    source.pull().request(request);
    ObjectNode reply = FrameCodec.mapper().createObjectNode();
    if (source.handle(op, request, reply)) {
      return reply;
    }
    if (PushRequests.OPS.contains(op)) {
      return push.handle(ctx, op, request, reply);
    }
    if (PullSessionRequests.OPS.contains(op)) {
      return pulls.handle(ctx, op, request, reply);
    }
    switch (op) {
      case "info" -> reply.put("instance_id", vineyard().instanceId())
          .put("ipc_socket", vineyard().ipcSocket())
          .put("rpc_endpoint", vineyard().rpcEndpoint())
          .put("version", io.v6d.migrate.Migrate.version())
          .put("tls", server.tls());
      case "cluster" -> reply.set("cluster", vineyard().clusterMeta());
      case "exists" -> reply.put("exists", vineyard().exists(ObjectIds.parse(request.path("id").asText())));
      case "name" -> reply.put("id", ObjectIds.format(vineyard().getName(request.path("name").asText())));
      case "grant" -> reply.put("grant", scope.grantId());
      case "join" -> scope.join(request.path("grant").asText());
      case "stream_open" -> {
        if (streamReader == null) {
          streamReader = server.connectVineyard();
        }
        long stream = ObjectIds.parse(request.path("id").asText());
        streamReader.streams().open(stream, false);
        scope.streamOpened(stream);
      }
      case "stream_next" -> {
        long stream = ObjectIds.parse(request.path("id").asText());
        scope.requireStream(stream);
        if (streamReader == null) {
          throw new MigrateException(ErrorCode.INVALID, "no stream opened on this connection");
        }
        awaitChunk(ctx, streamReader, stream);
        return null; // answered when the producer gives a chunk
      }
      default -> throw new MigrateException(ErrorCode.INVALID, "unknown request '" + op + "'");
    }
    return reply;
  }

  /**
   * Waits for a stream's next chunk on a thread of its own (it may take as long as the producer),
   * then answers. The stream reader's connection to vineyardd is not thread-safe, so the peer may
   * send nothing else on this connection meanwhile (see {@link #handle}); an unexpected failure
   * withdraws the chunk and drops that connection, whose state is then unknown.
   */
  private void awaitChunk(ChannelHandlerContext ctx, VineyardClient reader, long streamId) {
    chunkAwaited = streamId;
    AtomicReference<Long> delivered = new AtomicReference<>();
    ReplyLater.run(ctx, server.streamWaits(), waitingForStream, "stream_next", () -> {
      long chunk = reader.streams().pullNext(streamId);
      scope.chunkDelivered(chunk);
      delivered.set(chunk);
      FaultInjection.installed().reached("stream:chunk-delivered");
      return FrameCodec.mapper().createObjectNode().put("chunk", ObjectIds.format(chunk));
    }, new ReplyLater.Cleanup() {
      @Override
      public void failedUnexpectedly() {
        if (delivered.get() != null) {
          scope.chunkWithdrawn(delivered.get());
        }
        streamReader = null; // the next stream_open connects anew
        reader.close();
      }

      @Override
      public void answering() {
        chunkAwaited = null;
      }
    });
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    ctx.flush();
  }

  private VineyardClient vineyard() {
    if (vineyard == null) {
      vineyard = server.connectVineyard();
    }
    return vineyard;
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    LOG.info("closing {}: {}", ctx.channel().remoteAddress(), cause.getMessage());
    source.pull().broken();
    MigrateException e = cause instanceof MigrateException m ? m : new MigrateException(ErrorCode.UNKNOWN, String.valueOf(cause));
    ctx.writeAndFlush(error(e.code(), e.getMessage())).addListener(ChannelFutureListener.CLOSE);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    source.pull().closed();
    push.closed(ctx);
    pulls.closed();
    // the mappings go only once no codec thread compresses from them
    source.quiet().whenComplete((ok, e) -> {
          scope.close();
          if (vineyard != null) {
            vineyard.close();
          }
          if (streamReader != null) {
            streamReader.close();
          }
        });
  }

  static ControlFrame error(ErrorCode code, String message) {
    return new ControlFrame(FrameType.ERROR, FrameCodec.mapper().createObjectNode()
        .put("code", code.value()).put("message", message == null ? "error" : message));
  }
}
