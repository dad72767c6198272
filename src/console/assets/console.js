// The scan page posts each scan without reloading, keeps the focus in the field (a
// keyboard-wedge scanner types the next code straight away) and beeps on an answer that
// needs attention. Everything it shows is set as text, never as HTML.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("scan");
  if (!form) return;
  const code = document.getElementById("code");
  const answer = document.getElementById("answer");
  let audio = null;
  const beep = () => {
    try {
      audio = audio || new AudioContext();
      const o = audio.createOscillator();
      const g = audio.createGain();
      o.frequency.value = 440;
      g.gain.value = 0.2;
      o.connect(g).connect(audio.destination);
      o.start();
      o.stop(audio.currentTime + 0.35);
    } catch (e) { /* no sound device: the colour says it */ }
  };
  const show = (data) => {
    const a = data.answer;
    answer.className = "answer " + (a.ok ? "good" : "bad");
    answer.dataset.ok = String(a.ok);
    answer.replaceChildren();
    const c = document.createElement("div"); c.className = "code mono"; c.textContent = data.code;
    const w = document.createElement("div"); w.className = "what"; w.textContent = a.message;
    answer.append(c, w);
    if (a.slot !== undefined) {
      const s = document.createElement("div"); s.className = "slot";
      s.append("Casier ");
      const b = document.createElement("b"); b.textContent = String(a.slot); s.append(b);
      answer.append(s);
    }
    if (a.reason) {
      document.getElementById("reason").value = a.reason;
      if (data.reason_label) document.getElementById("reason-label").textContent = data.reason_label;
    }
    if (a.piece_id && (a.outcome === "held" || a.outcome === "to_destruction")) {
      const row = document.createElement("tr");
      const cells = [data.at, a.piece_id, a.card_number || "", data.reason_label || "",
        a.slot !== undefined ? String(a.slot) : "destruction", "vous"];
      for (const v of cells) { const td = document.createElement("td"); td.textContent = v; row.append(td); }
      document.getElementById("today").prepend(row);
    }
    if (!a.ok) beep();
  };
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = new URLSearchParams(new FormData(form));
    code.value = "";
    code.focus();
    try {
      const r = await fetch(form.action, { method: "POST", body, headers: { "Accept": "application/json" }, credentials: "same-origin" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      show(await r.json());
    } catch (e) {
      show({ code: body.get("code"), answer: { ok: false, message: "Pas de réponse du service (" + e.message + ") : scannez à nouveau." } });
    }
  });
  code.focus();
});
