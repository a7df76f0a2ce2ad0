/** Every fuzz target by name: the runner and the corpus regression test use this list. */
import { fuzz as delimited } from "./delimited.js";
import { fuzz as frame } from "./frame.js";
import { fuzz as handshake } from "./handshake.js";
import { fuzz as nodeInfo } from "./node-info.js";
import { fuzz as packet } from "./packet.js";
import { fuzz as pex } from "./pex.js";

export type FuzzTarget = (data: Uint8Array) => void;

export const TARGETS: Readonly<Record<string, FuzzTarget>> = {
  delimited,
  frame,
  handshake,
  "node-info": nodeInfo,
  packet,
  pex,
};
