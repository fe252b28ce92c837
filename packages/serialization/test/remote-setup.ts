/**
 * The remote-checkpoint setup shared by the serialization (`openUrl`) and CLI (`pt inspect URL`)
 * tests: the one test range server (tools/test-support) serving, from 127.0.0.1,
 * - `/w2.pt`: a 1 GiB zip checkpoint (sparse on disk);
 * - `/dcp/`: a DCP folder of 8 MiB of tensors plus non-tensor items (written by `saveDcpDir`);
 * - `/sharded/`: the same tensors as 4 `pytorch_model-*.bin` shards + `pytorch_model.bin.index.json`;
 * - `/st/`: the same tensors as 2 safetensors shards + `model.safetensors.index.json`;
 * - `/dtensor-4/`, `/fsdp2-2/`: the committed DCP fixtures torch wrote from 4 and 2 processes;
 * - `/fixture-sharded/`: the committed sharded fixture.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { saveSafetensors } from "@pt/safetensors";
import { fromTypedArray, type Tensor } from "@pt/tensor";
import { type RangeServer, startRangeServer } from "../../../tools/test-support/range-server.js";
import { saveDcpDir, saveShardedDir } from "../src/node.js";
import { seededFloats, writeBigCheckpoint } from "./big-checkpoint.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));

/** The local folders and files the server serves. */
export interface RemoteFixtures {
  readonly server: RangeServer;
  /** The temporary folder everything generated lies in. */
  readonly dir: string;
  /** Local paths, by URL path prefix (`/w2.pt`, `/dcp/`, `/sharded/`, `/st/`, `/dtensor-4/`, …). */
  readonly local: Readonly<Record<string, string>>;
  /** The generated tensors (name → values), the same in `/dcp/`, `/sharded/` and `/st/`. */
  readonly tensors: ReadonlyMap<string, Float32Array>;
  /** The bytes of tensor data in each of `/dcp/`, `/sharded/`, `/st/`. */
  readonly dataBytes: number;
  close(): Promise<void>;
}

/** 4 float32 tensors of [512, 1024] (2 MiB each), seeded. */
function makeTensors(): Map<string, Tensor> {
  const sd = new Map<string, Tensor>();
  for (let i = 0; i < 4; i++)
    sd.set(`layers.${i}.weight`, fromTypedArray(seededFloats(512 * 1024, 100 + i), { shape: [512, 1024] }));
  return sd;
}

/** Write every checkpoint and start the server (call `close()` in `afterAll`). */
export async function startRemoteFixtures(): Promise<RemoteFixtures> {
  const dir = mkdtempSync(join(tmpdir(), "pt-remote-"));
  const server = await startRangeServer();
  try {
    const big = join(dir, "w2.pt");
    await writeBigCheckpoint(big);
    server.files.set("/w2.pt", { data: { path: big } });

    const sd = makeTensors();
    const dcp = join(dir, "dcp");
    await saveDcpDir(
      new Map<string, unknown>([...sd, ["step", 7], ["optim", new Map<string, unknown>([["lr", 0.125]])]]),
      dcp,
    );
    const sharded = join(dir, "sharded");
    await saveShardedDir(sd, sharded, { maxShardSize: 3 << 20 });
    const st = join(dir, "st");
    mkdirSync(st);
    const names = [...sd.keys()];
    const weightMap: Record<string, string> = {};
    for (let s = 0; s < 2; s++) {
      const file = `model-0000${s + 1}-of-00002.safetensors`;
      const part = new Map(names.slice(2 * s, 2 * s + 2).map((n) => [n, sd.get(n) as Tensor] as const));
      for (const n of part.keys()) weightMap[n] = file;
      writeFileSync(join(st, file), await saveSafetensors(part));
    }
    writeFileSync(
      join(st, "model.safetensors.index.json"),
      `${JSON.stringify({ metadata: { total_size: 4 * (2 << 20) }, weight_map: weightMap }, null, 2)}\n`,
    );

    const local: Record<string, string> = {
      "/w2.pt": big,
      "/dcp/": dcp,
      "/sharded/": sharded,
      "/st/": st,
      "/dtensor-4/": join(FIXTURES, "dcp/dtensor-4"),
      "/fsdp2-2/": join(FIXTURES, "dcp/fsdp2-2"),
      "/fixture-sharded/": join(FIXTURES, "sharded"),
    };
    for (const [prefix, path] of Object.entries(local)) if (prefix.endsWith("/")) server.mount(prefix, path);
    const tensors = new Map<string, Float32Array>();
    for (const [k, t] of sd) tensors.set(k, t.toFloat32Array());
    return {
      server,
      dir,
      local,
      tensors,
      dataBytes: 4 * (2 << 20),
      close: async () => {
        await server.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
