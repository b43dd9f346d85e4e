// The recommender model (data/recommender.onnx, from scripts/train_recommender.py) behind a
// small API in film indices. The package is imported as any user imports it; the page's
// import map points 'edgeinfer' at the package's browser entry.
import { Model } from 'edgeinfer';

export class Recommender {
  #model;
  #films;
  #allowedByGenre = new Map();

  constructor(model, films) {
    this.#model = model;
    this.#films = films;
  }

  /** Loads the model and checks it takes what this page gives it: picks and a mask over `films`. */
  static async load(url, films) {
    const model = await Model.load(url);
    const [liked, allowed] = model.inputs;
    if (liked?.name !== 'liked' || allowed?.name !== 'allowed' || allowed.shape[0] !== films.length) {
      model.dispose();
      throw new Error(
        `${url} does not fit this page: its inputs are ${JSON.stringify(model.inputs)}, for ${films.length} films`,
      );
    }
    const recommender = new Recommender(model, films);
    // The first prediction pays for the engine's first run (V8 compiles wasm functions lazily):
    // paid here, while loading, so the times shown are those of a warm model.
    await recommender.recommend([0], null);
    return recommender;
  }

  /**
   * The best films for someone who likes `picks` (film indices), within `genre` (an index into
   * the catalogue's genres, or null for any), best first, each with the pick that contributes
   * most to it. `ms` is the time the prediction itself took.
   */
  async recommend(picks, genre) {
    const feeds = {
      liked: { data: BigInt64Array.from(picks, BigInt), shape: [picks.length] },
      allowed: { data: this.#allowed(genre), shape: [this.#films.length], dtype: 'bool' },
    };
    const started = performance.now();
    const out = await this.#model.predict(feeds);
    const ms = performance.now() - started;
    const recommendations = [];
    out.items.data.forEach((film, i) => {
      const score = out.scores.data[i];
      // -Infinity marks a slot the filter left empty (fewer allowed films than slots).
      if (Number.isFinite(score))
        recommendations.push({ film: Number(film), score, because: Number(out.because.data[i]) });
    });
    return { recommendations, ms };
  }

  /** The model's own monitoring of its predictions on this device (`model.stats()`). */
  stats() {
    return this.#model.stats();
  }

  #allowed(genre) {
    const key = genre ?? -1;
    if (!this.#allowedByGenre.has(key)) {
      this.#allowedByGenre.set(
        key,
        Uint8Array.from(this.#films, (f) => (genre === null || f.genres.includes(genre) ? 1 : 0)),
      );
    }
    return this.#allowedByGenre.get(key);
  }
}
