// The id of a provider's own queue, which CheckInAppointment creates on the first check-in, named as
// services/scheduling/provider-queue.ts names it ("prov-<providerId>", or the sha256 of the id when
// that is too long): the doctor's reception screen starts on it. The browser hashes with Web Crypto,
// which only secure contexts (https, localhost) have; elsewhere a long id's queue is not known.

/** MAX_ID is the longest id the services accept. */
const MAX_ID = 64;

/** providerQueueId is the id of the provider's own queue; undefined when it cannot be computed here. */
export async function providerQueueId(providerId: string): Promise<string | undefined> {
  const id = `prov-${providerId}`;
  if (id.length <= MAX_ID) return id;
  if (!globalThis.crypto?.subtle) return undefined;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(providerId)));
  return `prov-${[...digest].map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, 40)}`;
}
