// One websocket on /api/v1/stream, reconnecting with backoff; every message goes to `onMessage`.

export type StreamMessage = { type: string; [key: string]: unknown };

export function follow(types: string[], onMessage: (m: StreamMessage) => void, onState: (up: boolean) => void): () => void {
  let socket: WebSocket | null = null;
  let closed = false;
  let delay = 500;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const open = () => {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${proto}://${location.host}/api/v1/stream?types=${types.join(",")}`);
    socket.onopen = () => {
      delay = 500;
      onState(true);
    };
    socket.onmessage = (e) => {
      try {
        onMessage(JSON.parse(String(e.data)) as StreamMessage);
      } catch {
        // Not JSON: ignored.
      }
    };
    socket.onclose = () => {
      onState(false);
      if (!closed) {
        timer = setTimeout(open, delay);
        delay = Math.min(delay * 2, 15_000);
      }
    };
  };
  open();
  return () => {
    closed = true;
    clearTimeout(timer);
    socket?.close();
  };
}
