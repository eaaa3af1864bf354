"""A TCP proxy on 127.0.0.1 that passes a gRPC (HTTP/2, plain text)
connection through until the server begins its first answer, then cuts the
client's connection: the request reached the server and was acted on, and its
answer is lost, as when a network fails at the wrong moment."""

import socket
import struct
import threading

HEADERS = 0x1


class AnswerDroppingProxy:
    def __init__(self, upstream):
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.address = "127.0.0.1:%d" % self.listener.getsockname()[1]
        self.dropped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.listener.close()

    def _accept(self):
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        server = socket.create_connection(self.upstream)
        threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()
        self._answers(server, client)

    @staticmethod
    def _pipe(source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass

    def _answers(self, server, client):
        """Frames from the server, passed on until a HEADERS frame of a call."""
        buffered = b""
        try:
            while True:
                data = server.recv(65536)
                if not data:
                    break
                buffered += data
                while len(buffered) >= 9:
                    length = int.from_bytes(buffered[0:3], "big")
                    kind = buffered[3]
                    stream = struct.unpack(">I", buffered[5:9])[0] & 0x7FFFFFFF
                    if kind == HEADERS and stream != 0:
                        # Shut down before closing: a close alone would wait
                        # for the other thread's recv on the same socket.
                        for sock in (client, server):
                            try:
                                sock.shutdown(socket.SHUT_RDWR)
                            except OSError:
                                pass
                            sock.close()
                        self.dropped.set()
                        return
                    if len(buffered) < 9 + length:
                        break
                    client.sendall(buffered[:9 + length])
                    buffered = buffered[9 + length:]
        except OSError:
            pass
