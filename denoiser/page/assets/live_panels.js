// The live panels: the Noise σ slider and Noisy | Denoised | Original, scrubbed in the browser.
//
// The server sends one digit's whole sweep (every σ on the slider's grid) as PNG sprites plus
// captions, readings and PSNR per σ. Moving the slider only picks a frame here; the server
// hears the final σ once, when the visitor lets go (or stops pressing keys), through the
// component's "sigma" state value. Streamlit calls this function again on every rerun with
// the new data, so the view is built once per element and kept in `views`. The data may hold
// only some σ (the page's quick first answer for a new digit): positions without a frame keep
// the last one drawn until the whole sweep arrives. Such a first answer comes as raw bytes
// ("encoding": "raw"), drawn at once; a whole sweep as PNG sprites, decoded asynchronously.

const views = new WeakMap();
const LAST = 100; // the slider's positions are σ = 0.00 … 1.00, i.e. 0 … 100 hundredths
const KEY_IDLE_MS = 300; // keys pressed closer together than this are one move for the server
const STEPS = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1, PageDown: -10, PageUp: 10 };
const FALLBACK_STYLE = "dn-live-hides-fallback";
// A σ the server has not answered: once the page has been idle this long (no script running),
// the component sends it again with "resent" (a value never sent before, so the server hears it
// and takes the σ whatever became of the first sending), and the server redraws the whole page. Streamlit can lose a rerun's
// messages (a fragment's poll landing between a full run's end and their delivery), which left
// the panels, the sidebar and the download at the previous σ until the next key.
// The first wait is 2 s, each next one twice the last: under load (8 pages and a training on 2
// cores) a server can leave the page idle for a second before its run for the σ even starts,
// and each resend costs a full run, which would only slow it further (a 1 s wait resent 89 σ in
// one load bench run of 1,180 key presses).
const RESEND_IDLE_MS = 2000;
const RESEND_CHECK_MS = 200;
const RESEND_TRIES = 5;
const RUNNING = '[data-testid="stStatusWidget"]'; // Streamlit's "Running…" indicator
// The server's receipt: a hidden element it redraws on every run with the number of the last σ
// it was sent and the σ it computed with (`live.receipt`). It is small and changes alone, so the
// panels' own data (the whole sweep, sent once per digit) need not carry it.
const RECEIPT = ".dn-receipt";
// What the slider moves, per noise kind (the server sends it; this is Gaussian noise's).
const AMOUNT = { kind: "gaussian", name: "Noise σ", symbol: "σ", help: "" };

function nameAmount(root, amount) {
  // The slider's visible and accessible name, and the chart's words, follow the noise kind.
  if (root.dataset.kind === amount.kind) return;
  root.dataset.kind = amount.kind;
  const slider = root.querySelector(".dn-slider");
  slider.setAttribute("aria-label", amount.name);
  slider.title = amount.help;
  root.querySelector(".dn-label").textContent = amount.name;
  root.querySelector(".dn-chart").setAttribute("aria-label", `PSNR of this digit against ${amount.symbol}`);
  root.querySelector(".dn-chart-caption").textContent =
    `This digit's PSNR against ${amount.symbol}: dashed, the noisy input; solid, denoised. The marker follows the slider.`;
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let view = views.get(parentElement);
  if (!view) {
    const root = parentElement.querySelector(".dn-live");
    if (!root || !data) return;
    view = createView(root);
    views.set(parentElement, view);
  }
  view.setStateValue = setStateValue;
  view.update(data);
}

function createView(root) {
  const slider = root.querySelector(".dn-slider");
  const value = root.querySelector(".dn-value");
  const figures = Array.from(root.querySelectorAll(".dn-panels .dn-panel"));
  const panels = ["noisy", "denoised", "original"].map((kind, i) => ({
    kind,
    canvas: figures[i].querySelector("canvas"),
    context: figures[i].querySelector("canvas").getContext("2d"),
    caption: figures[i].querySelector(".dn-caption"),
    reading: figures[i].querySelector(".dn-reading"),
  }));
  const compared = root.querySelector(".dn-compared");
  const chart = root.querySelector(".dn-chart");
  const notice = root.querySelector(".dn-notice");
  const raw = root.querySelector(".dn-raw");
  const view = {
    data: null, // the latest data from the server
    frames: null, // {noisy: ImageData[], denoised: ImageData[], original: ImageData[], compared: ImageData[][]}
    framesFor: null, // which data.id + compared labels the frames were decoded from
    index: 50, // the slider's position, in hundredths of σ
    frameAt: new Map(), // slider position → row in the data's arrays
    serial: null, // the server's σ serial last applied
    sentIndex: null,
    awaiting: null, // the σ (in hundredths) sent and not yet acknowledged by the server's receipt
    asked: 0, // how many σ this view has sent: the server's receipt echoes the last it heard
    resends: 0,
    id: Math.random().toString(36).slice(2), // makes every resend's state new, so the server hears each
    idleSince: null,
    resendTimer: null,
    keyTimer: null,
    dragging: false,
    readySent: false,
    comparedPanels: [],
    setStateValue: null,
  };

  const setIndex = (index) => {
    view.index = Math.max(0, Math.min(LAST, index));
    render();
  };

  const send = () => {
    clearTimeout(view.keyTimer);
    view.keyTimer = null;
    if (!view.data || view.sentIndex === view.index || !view.setStateValue) return;
    view.sentIndex = view.index;
    view.awaiting = view.index;
    view.resends = 0;
    view.asked += 1;
    root.dataset.asked = String(view.asked); // with data-acknowledged: what tests wait on
    view.setStateValue("sigma", view.index / 100);
    view.setStateValue("asked", view.asked); // batched with the σ: one rerun carries both
    watchReply();
  };

  // The server's receipt shows the number of the σ last sent and the σ its run computed with:
  // both ours, so this σ arrived, was taken, and its run's output reached the page (a receipt is
  // drawn in the run, so a lost reply loses it too). The number alone is not enough: Streamlit
  // can take a message's number and drop its σ (a run_every fragment's rerun replacing the
  // widget states of a pending full run).
  const receiptArrived = () => {
    const receipt = document.querySelector(RECEIPT);
    return (
      Boolean(receipt) &&
      Number(receipt.dataset.asked) >= view.asked &&
      Math.round(Number(receipt.dataset.sigma) * 100) === view.awaiting
    );
  };

  // Until a reply carries the σ sent: when no script runs for RESEND_IDLE_MS, send it again.
  const watchReply = () => {
    clearInterval(view.resendTimer);
    view.idleSince = null;
    view.resendTimer = setInterval(() => {
      if (view.awaiting !== null && receiptArrived()) {
        view.awaiting = null;
        root.dataset.acknowledged = String(view.asked); // tests wait on this, not on a clock
      }
      if (view.awaiting === null || view.resends >= RESEND_TRIES) {
        clearInterval(view.resendTimer);
        return;
      }
      if (document.querySelector(RUNNING)) {
        view.idleSince = null;
        return;
      }
      view.idleSince = view.idleSince ?? Date.now();
      if (Date.now() - view.idleSince < RESEND_IDLE_MS * 2 ** view.resends) return;
      view.resends += 1;
      view.idleSince = null;
      root.dataset.resent = String(Number(root.dataset.resent || 0) + 1);
      view.setStateValue("sigma", view.awaiting / 100); // batched with the next: one rerun carries all three
      view.setStateValue("asked", view.asked);
      view.setStateValue("resent", `${view.id}:${view.asked}:${view.resends}`); // never a value the server holds
    }, RESEND_CHECK_MS);
  };

  slider.addEventListener("keydown", (event) => {
    if (!view.data) return;
    let next = null;
    if (event.key in STEPS) next = view.index + STEPS[event.key];
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = LAST;
    if (next === null) return;
    event.preventDefault(); // the browser's own steps differ (PageUp is not 0.1 everywhere)
    setIndex(next);
    clearTimeout(view.keyTimer);
    view.keyTimer = setTimeout(send, KEY_IDLE_MS);
  });
  slider.addEventListener("input", () => {
    view.dragging = true;
    setIndex(Math.round(Number(slider.value) * 100));
  });
  slider.addEventListener("change", () => {
    view.dragging = false;
    send();
  });
  const release = () => {
    if (view.dragging) {
      view.dragging = false;
      send();
    }
  };
  slider.addEventListener("pointerup", release);
  slider.addEventListener("touchend", release);
  slider.addEventListener("blur", () => view.keyTimer && send());

  function render() {
    const data = view.data;
    if (!data) return;
    const sigma = view.index / 100;
    const text = sigma.toFixed(2);
    const amount = data.amount || AMOUNT;
    if (Number(slider.value) !== sigma) slider.value = String(sigma);
    slider.setAttribute("aria-valuenow", text);
    slider.setAttribute("aria-valuetext", `${amount.symbol} ${text}`);
    value.textContent = text;
    root.dataset.sigma = text;
    moveMarker(chart, data, view.index, view.frameAt.get(view.index));
    const i = view.frameAt.get(view.index);
    // Before a new digit's frames are decoded, or at a σ the (partial) data lacks, the panels keep
    // what they show: pixels and captions always change together.
    if (!view.frames || i === undefined) return;
    root.dataset.shown = text;
    const captions = [data.captions.noisy[i], data.captions.denoised[i], data.captions.original];
    const readings = data.readings
      ? [data.readings.noisy[i], data.readings.denoised[i], data.readings.original]
      : [null, null, null];
    panels.forEach((panel, p) => {
      const frames = view.frames && view.frames[panel.kind];
      if (frames) panel.context.putImageData(frames[panel.kind === "original" ? 0 : i], 0, 0);
      panel.canvas.setAttribute("aria-label", captions[p]);
      panel.caption.textContent = captions[p].split(" · ").join("\n");
      panel.caption.classList.toggle("dn-worse", p === 1 && Boolean(data.worse[i]));
      panel.reading.textContent = readings[p] || "";
      panel.reading.classList.toggle("dn-unsure", Boolean(readings[p] && readings[p].includes("unsure")));
    });
    view.comparedPanels.forEach((panel, m) => {
      const frames = view.frames && view.frames.compared[m];
      if (frames) panel.context.putImageData(frames[i], 0, 0);
      const caption = data.compared[m].captions[i];
      panel.canvas.setAttribute("aria-label", `Denoised by ${caption}`);
      panel.caption.textContent = caption.split(" · ").join("\n");
    });
  }

  view.update = (data) => {
    view.data = data;
    // Only a new serial answers a σ here: the server set σ itself, which wins. The data's σ is the
    // one the server last set, not the one it has now, so a σ equal to it proves nothing (only
    // the receipt does): a rerun that began before the visitor's σ arrived carries it too.
    if (view.awaiting !== null && data.serial !== view.serial) {
      view.awaiting = null;
      root.dataset.acknowledged = String(view.asked); // nothing is pending
      clearInterval(view.resendTimer);
    }
    nameAmount(root, data.amount || AMOUNT);
    notice.textContent = data.notice || "";
    notice.hidden = !data.notice;
    showRaw(raw, data.raw);
    if (data.serial !== view.serial) {
      // The server set σ itself (first load, or state changed by code): take it. A σ that only
      // echoes what this slider sent comes with the same serial and is ignored, so a rerun
      // never pulls the thumb back while the visitor is still moving it.
      view.serial = data.serial;
      view.index = Math.max(0, Math.min(LAST, Math.round(data.sigma * 100)));
      view.sentIndex = view.index;
    }
    view.frameAt = new Map(data.sigmas.map((s, row) => [Math.round(s * 100), row]));
    const frameKey = `${data.id}|${data.sigmas.length}|${data.compared.map((c) => c.label).join("|")}`;
    if (frameKey !== view.framesFor) {
      view.framesFor = frameKey;
      view.frames = null;
      root.dataset.complete = "false";
      drawChart(chart, data);
      buildCompared(compared, view, data);
      const show = (frames) => {
        if (view.framesFor !== frameKey) return; // a newer digit arrived meanwhile
        view.frames = frames;
        root.dataset.complete = String(data.sigmas.length > LAST);
        render();
        markReady(root, view);
        if (data.sigmas.length <= LAST && view.setStateValue) {
          // A first answer is on screen: now the server may sweep every σ (had it started at
          // once, it would have competed with this page for the CPU while the answer arrived).
          view.setStateValue("drawn", data.id);
        }
      };
      if (data.encoding === "raw") show(rawFrames(data)); // a first answer: drawn in this very task
      else
        decodeAll(data).then(show, (error) => {
          // The fallback panels the server drew stand in (the page's CSS shows them for a failed component).
          root.dataset.failed = "true";
          console.error("live panels: could not decode the frames", error);
        });
    }
    render();
  };
  // A wider page widens the chart (its viewBox, not its text); the canvases size themselves in CSS.
  new ResizeObserver(() => {
    if (view.data && chart.clientWidth !== chart.drawnWidth) {
      drawChart(chart, view.data);
      render();
    }
  }).observe(chart);
  return view;
}

function showRaw(box, raw) {
  // The drawing or upload as the visitor gave it, small, beside the Original it was framed into.
  box.hidden = !raw;
  if (!raw) return;
  const image = box.querySelector("img");
  const source = `data:image/png;base64,${raw.png}`;
  if (image.getAttribute("src") !== source) image.setAttribute("src", source);
  image.alt = raw.label;
  box.querySelector(".dn-raw-label").textContent = raw.label;
}

function markReady(root, view) {
  // The component works: hide the server-drawn fallback panels, and tell the server once so it
  // stops drawing them (a page whose scripts fail never gets here and keeps the fallback).
  if (!document.getElementById(FALLBACK_STYLE)) {
    const style = document.createElement("style");
    style.id = FALLBACK_STYLE;
    style.textContent = ".st-key-fallback_panels { display: none !important; }";
    document.head.appendChild(style);
  }
  root.dataset.ready = "true";
  if (!view.readySent && !view.data.ready && view.setStateValue) {
    view.readySent = true;
    // The rerun this causes deletes the fallback's images on the server: let them arrive first
    // (hidden, they still load), or the browser logs a 404 for each.
    fallbackLoaded().then(() => view.setStateValue("ready", true));
  }
}

function fallbackLoaded(limitMs = 15000) {
  const images = Array.from(document.querySelectorAll(".st-key-fallback_panels img")).filter((i) => !i.complete);
  const loaded = images.map((image) => new Promise((done) => image.addEventListener("load", done, { once: true })));
  const failed = images.map((image) => new Promise((done) => image.addEventListener("error", done, { once: true })));
  const settled = images.map((_, n) => Promise.race([loaded[n], failed[n]]));
  return Promise.race([Promise.all(settled), new Promise((done) => setTimeout(done, limitMs))]);
}

function rawFrames(data) {
  const [noisy, denoised, original, ...compared] = [
    data.frames.noisy,
    data.frames.denoised,
    data.frames.original,
    ...data.compared.map((c) => c.frames),
  ].map((sprite) => rawSprite(sprite, data.size));
  return { noisy, denoised, original, compared };
}

function rawSprite(base64, size) {
  // Greyscale bytes, frames stacked row by row → one opaque ImageData per frame.
  const grey = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const frames = [];
  for (let offset = 0; offset + size * size <= grey.length; offset += size * size) {
    const rgba = new Uint8ClampedArray(size * size * 4);
    for (let p = 0; p < size * size; p += 1) {
      rgba[4 * p] = rgba[4 * p + 1] = rgba[4 * p + 2] = grey[offset + p];
      rgba[4 * p + 3] = 255;
    }
    frames.push(new ImageData(rgba, size, size));
  }
  return frames;
}

async function decodeAll(data) {
  const size = data.size;
  const [noisy, denoised, original, ...compared] = await Promise.all(
    [data.frames.noisy, data.frames.denoised, data.frames.original, ...data.compared.map((c) => c.frames)].map(
      (sprite) => decodeSprite(sprite, size),
    ),
  );
  return { noisy, denoised, original, compared };
}

async function decodeSprite(base64, size) {
  // A lossless greyscale PNG of frames stacked vertically → one ImageData per frame, pixels
  // untouched (no colour management, no premultiplied alpha).
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }), {
    colorSpaceConversion: "none",
    premultiplyAlpha: "none",
  });
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  const all = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const frameBytes = size * size * 4;
  const frames = [];
  for (let offset = 0; offset + frameBytes <= all.length; offset += frameBytes) {
    frames.push(new ImageData(all.slice(offset, offset + frameBytes), size, size));
  }
  bitmap.close();
  return frames;
}

function buildCompared(container, view, data) {
  container.replaceChildren();
  view.comparedPanels = data.compared.map(() => {
    const figure = document.createElement("figure");
    figure.className = "dn-panel";
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = data.size;
    canvas.setAttribute("role", "img");
    const caption = document.createElement("figcaption");
    caption.className = "dn-caption";
    figure.append(canvas, caption);
    container.append(figure);
    return { canvas, context: canvas.getContext("2d"), caption };
  });
  container.hidden = data.compared.length === 0;
}

// The chart: PSNR of this digit against σ, noisy (dashed) and denoised (solid), with a marker. Its
// viewBox is 120 units high and at least 320 wide, as wide as the box's shape asks for.
function chartBox(svg) {
  const width = svg.clientWidth;
  const height = svg.clientHeight;
  const units = height > 0 ? Math.max(320, Math.round((120 * width) / height)) : 320;
  svg.setAttribute("viewBox", `0 0 ${units} 120`);
  svg.drawnWidth = width;
  return { left: 30, right: units - 8, top: 8, bottom: 100 };
}

function scales(data, box) {
  const values = [...data.psnr.noisy, ...data.psnr.denoised].filter((v) => v !== null);
  const low = Math.floor(Math.min(...values) / 5) * 5;
  const high = Math.ceil(Math.max(...values) / 5) * 5 || low + 5;
  return {
    x: (sigma) => box.left + sigma * (box.right - box.left),
    y: (psnr) => box.bottom - ((Math.min(psnr, high) - low) / (high - low || 1)) * (box.bottom - box.top),
    low,
    high,
  };
}

function linePath(data, values, scale) {
  let path = "";
  values.forEach((v, i) => {
    if (v === null) return;
    path += `${path ? "L" : "M"}${scale.x(data.sigmas[i]).toFixed(1)},${scale.y(v).toFixed(1)}`;
  });
  return path;
}

function drawChart(svg, data) {
  const box = chartBox(svg);
  const scale = scales(data, box);
  const symbol = (data.amount || AMOUNT).symbol;
  const ns = "http://www.w3.org/2000/svg";
  const make = (tag, attributes, text) => {
    const element = document.createElementNS(ns, tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
    if (text !== undefined) element.textContent = text;
    svg.append(element);
    return element;
  };
  svg.replaceChildren();
  make("line", { class: "dn-axis", x1: box.left, x2: box.right, y1: box.bottom, y2: box.bottom });
  make("line", { class: "dn-axis", x1: box.left, x2: box.left, y1: box.top, y2: box.bottom });
  for (const psnr of [scale.low, scale.high]) {
    make("text", { x: box.left - 4, y: scale.y(psnr) + 3, "text-anchor": "end" }, `${psnr}`);
  }
  make("text", { x: 2, y: box.top + 2, "text-anchor": "start" }, "dB");
  for (const sigma of [0, 0.5, 1]) {
    make("text", { x: scale.x(sigma), y: box.bottom + 11, "text-anchor": "middle" }, `${symbol} ${sigma}`);
  }
  make("path", { class: "dn-noisy-line", d: linePath(data, data.psnr.noisy, scale) });
  make("path", { class: "dn-denoised-line", d: linePath(data, data.psnr.denoised, scale) });
  make("line", { class: "dn-marker", y1: box.top, y2: box.bottom });
  make("circle", { class: "dn-marker-noisy", r: 3, fill: "currentColor" });
  make("circle", { class: "dn-marker-denoised", r: 3.5, fill: "var(--st-primary-color, #ff4b4b)" });
  make("text", { class: "dn-marker-text", y: box.top + 8 });
  svg.scale = scale;
  svg.box = box;
}

function moveMarker(svg, data, position, i) {
  const scale = svg.scale;
  if (!scale) return;
  const x = scale.x(position / 100);
  const line = svg.querySelector(".dn-marker");
  line.setAttribute("x1", x);
  line.setAttribute("x2", x);
  const place = (selector, value) => {
    const dot = svg.querySelector(selector);
    dot.setAttribute("visibility", value === null ? "hidden" : "visible");
    if (value !== null) {
      dot.setAttribute("cx", x);
      dot.setAttribute("cy", scale.y(value));
    }
  };
  const noisy = i === undefined ? null : data.psnr.noisy[i];
  const denoised = i === undefined ? null : data.psnr.denoised[i];
  place(".dn-marker-noisy", noisy);
  place(".dn-marker-denoised", denoised);
  const label = svg.querySelector(".dn-marker-text");
  const db = (v) => (v === null ? "∞" : v.toFixed(1));
  const at = `${(data.amount || AMOUNT).symbol} ${(position / 100).toFixed(2)}`;
  label.textContent = i === undefined ? at : `${at}: ${db(noisy)} → ${db(denoised)} dB`;
  const right = x > (svg.box.left + svg.box.right) / 2;
  label.setAttribute("x", right ? x - 5 : x + 5);
  label.setAttribute("text-anchor", right ? "end" : "start");
}
