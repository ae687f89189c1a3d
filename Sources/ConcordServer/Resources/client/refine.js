// Refine's LiveProvider over a client.

import { REPORT } from "./errors.js";

/**
 * Refine's LiveProvider over a Concord client:
 *
 *   <Refine liveProvider={liveProvider(client)} ... />
 *
 * subscribe returns its handle synchronously, as Refine stores it without awaiting; unsubscribe
 * takes that handle (a second call does nothing); publish never throws nor leaves a rejected promise
 * behind: a refusal (e.g. `forbidden` where browsers may not publish) goes to the client's error
 * listeners, or console.warn when there are none.
 */
export function liveProvider(client) {
  return {
    subscribe({ channel, types, params, callback }) {
      return client.subscribe({ channel, types: types ?? ["*"], params, callback });
    },
    unsubscribe(subscription) {
      client.unsubscribe(subscription);
    },
    publish(event) {
      client.publish(event).catch((error) => client[REPORT](error));
    },
  };
}
