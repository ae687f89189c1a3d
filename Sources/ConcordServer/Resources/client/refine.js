// Refine's LiveProvider over a client.

import { REPORT } from "./errors.js";

/**
 * Refine's LiveProvider over a Concord client:
 *
 *   <Refine liveProvider={liveProvider(client)} ... />
 *
 * subscribe returns its handle synchronously, as Refine stores it without awaiting. After a
 * reconnect the client recovers the events each subscription missed; when it cannot (the server
 * lost them, or too many were missed), the callback gets one event of type "*" with no ids and
 * `meta.concord.refetch` saying why, which Refine's hooks treat as a change: lists and records in
 * auto mode refetch once, manual mode's onLiveEvent can offer a reload. unsubscribe
 * takes that handle (a second call does nothing); publish never throws nor leaves a rejected promise
 * behind: a refusal (e.g. `forbidden` where browsers may not publish) goes to the client's error
 * listeners, or console.warn when there are none.
 */
export function liveProvider(client, options = {}) {
  return {
    subscribe({ channel, types, params, callback, meta }) {
      // Coalescing: the hook's meta ({ concord: { coalesce: 500 } }), else the provider's default.
      const coalesce = meta?.concord?.coalesce ?? params?.meta?.concord?.coalesce ?? options.coalesce;
      return client.subscribe({
        channel,
        types: types ?? ["*"],
        params,
        callback,
        coalesce,
        onSubscribed: (info) => {
          if (info.gap) callback(refetchEvent(channel, info));
        },
      });
    },
    unsubscribe(subscription) {
      client.unsubscribe(subscription);
    },
    publish(event) {
      client.publish(event).catch((error) => client[REPORT](error));
    },
  };
}

/** The LiveEvent that tells a Refine hook to refetch: what was missed cannot be replayed. */
export function refetchEvent(channel, info) {
  return {
    channel,
    type: "*",
    payload: {},
    date: new Date(),
    meta: { concord: { refetch: true, reason: info.reason ?? "not_recovered" } },
  };
}
