// Recordings kept on the phone (IndexedDB) until the server has them: each MediaRecorder
// chunk is appended as it arrives, so a reload, a crash or a dead battery loses at most the
// last second. A record is deleted only once the server confirmed it (phone.js, pending.js).
//
// recordings: {id, userId, createdAt, type, name, state: "recording" | "saved", queued,
//              metadata, size, error}
// chunks:     {key (auto, the order they came in), recordingId, blob}

const DB_NAME = "dictation-desk-phone";
const VERSION = 1;
let opening = null;

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function finished(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = tx.onabort = () => reject(tx.error || new Error("IndexedDB transaction failed"));
  });
}

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      if (typeof indexedDB === "undefined") { reject(new Error("IndexedDB is not available")); return; }
      const request = indexedDB.open(DB_NAME, VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        db.createObjectStore("recordings", { keyPath: "id" }).createIndex("user", "userId");
        db.createObjectStore("chunks", { keyPath: "key", autoIncrement: true }).createIndex("recording", "recordingId");
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    opening.catch(() => { opening = null; });
  }
  return opening;
}

async function update(id, change) {
  const db = await open();
  const tx = db.transaction("recordings", "readwrite");
  const store = tx.objectStore("recordings");
  const record = await done(store.get(id));
  if (record) store.put({ ...record, ...change(record) });
  await finished(tx);
}

/** A new, empty recording of this person; resolves its id. */
export async function create(userId, type) {
  const id = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
  const db = await open();
  const tx = db.transaction("recordings", "readwrite");
  tx.objectStore("recordings").put({
    id, userId, createdAt: Date.now(), type: type || "audio/webm", name: "", state: "recording",
    queued: false, metadata: null, size: 0, error: "",
  });
  await finished(tx);
  return id;
}

/** One more chunk, after the others (IndexedDB runs write transactions in the order made). */
export async function append(id, blob) {
  const db = await open();
  const tx = db.transaction(["recordings", "chunks"], "readwrite");
  tx.objectStore("chunks").add({ recordingId: id, blob });
  const recordings = tx.objectStore("recordings");
  const record = await done(recordings.get(id));
  if (record) recordings.put({ ...record, size: record.size + blob.size });
  await finished(tx);
}

export function finish(id, name) {
  return update(id, () => ({ state: "saved", name }));
}

/** The author pressed Send: kept with what they typed, and sent until the server has it. */
export function queue(id, metadata) {
  return update(id, () => ({ queued: true, metadata, error: "" }));
}

export function failed(id, error) {
  return update(id, () => ({ error }));
}

/** This person's recordings, oldest first. */
export async function list(userId) {
  const db = await open();
  const all = await done(db.transaction("recordings").objectStore("recordings").index("user").getAll(userId));
  return all.sort((a, b) => a.createdAt - b.createdAt);
}

export async function get(id) {
  const db = await open();
  return done(db.transaction("recordings").objectStore("recordings").get(id));
}

function fileName(record) {
  if (record.name) return record.name;
  const extension = record.type.includes("mp4") ? "m4a" : record.type.includes("ogg") ? "ogg" : "webm";
  const stamp = new Date(record.createdAt).toISOString().slice(0, 16).replace(/[-:T]/g, "");
  return `memo-${stamp}.${extension}`;
}

/** The recording as a File, its chunks in the order they were recorded. lastModified is
 *  the start of the recording, so the resumable upload finds its place again after a reload. */
export async function file(id) {
  const db = await open();
  const tx = db.transaction(["recordings", "chunks"]);
  const record = await done(tx.objectStore("recordings").get(id));
  if (!record) return null;
  const chunks = await done(tx.objectStore("chunks").index("recording").getAll(id));
  chunks.sort((a, b) => a.key - b.key);
  return new File(chunks.map((c) => c.blob), fileName(record),
    { type: record.type.split(";")[0], lastModified: record.createdAt });
}

/** Gone from the phone: only once the server confirmed it, or the author discarded it. */
export async function remove(id) {
  const db = await open();
  const tx = db.transaction(["recordings", "chunks"], "readwrite");
  tx.objectStore("recordings").delete(id);
  const chunks = tx.objectStore("chunks");
  for (const key of await done(chunks.index("recording").getAllKeys(id))) chunks.delete(key);
  await finished(tx);
}
