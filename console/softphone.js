// The browser softphone: plays Vonage's role in a call to the gateway.
// 1. GET the answer webhook (as Vonage does when a call arrives) and take the NCCO's websocket endpoint.
// 2. Open the leg at its `uri` and send `websocket:connected` with its content-type and headers (flattened).
// 3. Microphone → AudioWorklet → leg rate → exact 20 ms 16-bit LE frames; audio from the gateway plays through another
//    worklet; `notify` is echoed once the audio before it has played; `clear` drops queued audio and is acknowledged.
// 4. Keypad → `websocket:dtmf`; hang-up closes the socket.

/** Find the websocket endpoint in an NCCO (first `connect` with a `websocket` endpoint). */
export function websocketEndpoint(ncco) {
  if (!Array.isArray(ncco)) throw new Error('the answer webhook did not return an NCCO array');
  for (const action of ncco) {
    if (action && action.action === 'connect' && Array.isArray(action.endpoint)) {
      const ep = action.endpoint.find((e) => e && e.type === 'websocket');
      if (ep) return ep;
    }
  }
  throw new Error('the NCCO has no connect action with a websocket endpoint (the gateway may be busy or draining)');
}

export class Softphone {
  constructor(events) {
    this.events = events; // { onStatus(text), onEnd(reason), onStats({sent, received}) }
    this.ws = undefined;
    this.ctx = undefined;
    this.mic = undefined;
    this.player = undefined;
    this.marks = new Map();
    this.nextMark = 0;
    this.framesSent = 0;
    this.framesReceived = 0;
    this.uuid = '';
    this.ended = false;
  }

  /** Place a call to the bot. Resolves once the leg is open and audio flows. */
  async call({ from = 'browser', to = 'bot' } = {}) {
    this.uuid = `browser-${crypto.randomUUID()}`;
    const q = new URLSearchParams({ uuid: this.uuid, conversation_uuid: `CON-${crypto.randomUUID()}`, from, to });
    this.events.onStatus('asking the answer webhook…');
    const r = await fetch(`/webhooks/answer?${q}`, { credentials: 'omit' });
    if (!r.ok) throw new Error(`answer webhook answered ${r.status}`);
    const ep = websocketEndpoint(await r.json());
    const m = /^audio\/l16;rate=(\d+)$/.exec(ep['content-type'] || '');
    if (!m) throw new Error(`unsupported content-type ${ep['content-type']}`);
    const rateHz = Number(m[1]);

    // Audio first (the click that started the call allows the AudioContext to run).
    this.ctx = new AudioContext({ latencyHint: 'interactive' });
    await this.ctx.audioWorklet.addModule('/console/worklets.js');
    this.mic = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: false, autoGainControl: false },
    });
    this.player = new AudioWorkletNode(this.ctx, 'vgw-player', { numberOfInputs: 0, outputChannelCount: [1], processorOptions: { inRateHz: rateHz } });
    this.player.connect(this.ctx.destination);
    this.player.port.onmessage = (e) => this.onPlayer(e.data);

    this.events.onStatus(`connecting to ${ep.uri}…`);
    const ws = new WebSocket(ep.uri);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error(`could not open ${ep.uri}`));
    });
    ws.onerror = () => this.events.onStatus('websocket error');
    ws.onclose = (e) => this.end(`leg closed ${e.code}${e.reason ? ` (${e.reason})` : ''}`);
    ws.onmessage = (e) => this.onMessage(e.data);
    // Vonage flattens the NCCO headers into the handshake's top level.
    ws.send(JSON.stringify({ ...(ep.headers || {}), event: 'websocket:connected', 'content-type': ep['content-type'] }));

    const src = this.ctx.createMediaStreamSource(this.mic);
    const capture = new AudioWorkletNode(this.ctx, 'vgw-capture', { numberOfOutputs: 1, outputChannelCount: [1], processorOptions: { outRateHz: rateHz } });
    capture.port.onmessage = (e) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(e.data);
      this.framesSent++;
    };
    // A silent sink keeps the capture node pulled by the graph.
    const mute = this.ctx.createGain();
    mute.gain.value = 0;
    src.connect(capture).connect(mute).connect(this.ctx.destination);
    await this.ctx.resume();
    this.events.onStatus(`in call ${this.uuid} at ${rateHz} Hz`);
    this.statsTimer = setInterval(() => this.events.onStats({ sent: this.framesSent, received: this.framesReceived }), 500);
    return this.uuid;
  }

  onMessage(data) {
    if (data instanceof ArrayBuffer) {
      this.framesReceived++;
      this.player.port.postMessage({ type: 'audio', pcm: data }, [data]);
      return;
    }
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg.action === 'notify') {
      const id = ++this.nextMark;
      this.marks.set(id, msg.payload);
      this.player.port.postMessage({ type: 'mark', id });
    } else if (msg.action === 'clear') {
      this.player.port.postMessage({ type: 'clear' });
      this.marks.clear();
      this.send({ event: 'websocket:cleared' });
    }
  }

  onPlayer(m) {
    if (m.type === 'notify' && this.marks.has(m.id)) {
      const payload = this.marks.get(m.id);
      this.marks.delete(m.id);
      this.send({ event: 'websocket:notify', payload });
    }
  }

  /** One key press, as Vonage reports it. */
  dtmf(digit, durationMs = 200) {
    this.send({ event: 'websocket:dtmf', digit, duration: durationMs });
  }

  send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  hangup() {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000, 'caller hung up');
    this.end('you hung up');
  }

  end(reason) {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.statsTimer);
    if (this.mic) for (const t of this.mic.getTracks()) t.stop();
    if (this.ctx) this.ctx.close().catch(() => {});
    this.events.onEnd(reason);
  }
}
