// The film search: a combobox whose popup is a listbox (the WAI-ARIA "list autocomplete with
// automatic selection" pattern). Focus stays in the text box; the arrow keys move the active
// option (aria-activedescendant), Enter adds it, Escape closes the list and then clears the box.

const MAX_OPTIONS = 8;

/** Lower case, no accents, punctuation as spaces: "Amélie" and "amelie" find the same film. */
export function normalise(text) {
  return text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

export class FilmSearch {
  #input;
  #listbox;
  #hint;
  #films;
  #keys;
  #isPicked;
  #onPick;
  #matches = [];
  #active = -1;

  /**
   * @param {{ input: HTMLInputElement, listbox: HTMLElement, hint: HTMLElement,
   *   films: { title: string, year: number, likes: number }[],
   *   isPicked: (film: number) => boolean, onPick: (film: number) => void }} options
   */
  constructor({ input, listbox, hint, films, isPicked, onPick }) {
    this.#input = input;
    this.#listbox = listbox;
    this.#hint = hint;
    this.#films = films;
    this.#keys = films.map((f) => normalise(`${f.title} ${f.year}`));
    this.#isPicked = isPicked;
    this.#onPick = onPick;
    input.addEventListener('input', () => this.#search());
    input.addEventListener('keydown', (e) => this.#onKey(e));
    input.addEventListener('blur', () => this.#close());
    input.addEventListener('focus', () => this.#search());
    // mousedown would move focus out of the text box and close the list before the click lands.
    listbox.addEventListener('mousedown', (e) => e.preventDefault());
    listbox.addEventListener('click', (e) => {
      const option = e.target.closest('[role="option"]');
      if (option) this.#pick(Number(option.dataset.film));
    });
  }

  #search() {
    const query = normalise(this.#input.value);
    this.#matches = query ? this.#find(query) : [];
    this.#active = this.#matches.length ? 0 : -1;
    this.#hint.textContent =
      query && !this.#matches.length
        ? `No film matches “${this.#input.value.trim()}”.`
        : 'Type to search, arrow keys to choose, Enter to add.';
    this.#render();
  }

  /** Films whose title has every word typed; titles starting with the query first, then the most liked. */
  #find(query) {
    const words = query.split(' ');
    const hits = [];
    this.#keys.forEach((key, film) => {
      if (this.#isPicked(film) || !words.every((w) => key.includes(w))) return;
      const rank = key.startsWith(query) ? 0 : ` ${key}`.includes(` ${words[0]}`) ? 1 : 2;
      hits.push({ film, rank });
    });
    const likes = (film) => this.#films[film].likes;
    hits.sort((a, b) => a.rank - b.rank || likes(b.film) - likes(a.film) || a.film - b.film);
    return hits.slice(0, MAX_OPTIONS).map((h) => h.film);
  }

  #render() {
    const options = this.#matches.map((film, i) => {
      const f = this.#films[film];
      const option = document.createElement('li');
      option.id = `film-option-${film}`;
      option.setAttribute('role', 'option');
      option.setAttribute('aria-selected', String(i === this.#active));
      option.dataset.film = film;
      option.append(f.title, ' ');
      const year = document.createElement('span');
      year.className = 'year';
      year.textContent = `(${f.year})`;
      option.append(year);
      return option;
    });
    this.#listbox.replaceChildren(...options);
    const open = options.length > 0;
    this.#listbox.hidden = !open;
    this.#input.setAttribute('aria-expanded', String(open));
    if (open && this.#active >= 0) {
      this.#input.setAttribute('aria-activedescendant', options[this.#active].id);
      options[this.#active].scrollIntoView({ block: 'nearest' });
    } else {
      this.#input.removeAttribute('aria-activedescendant');
    }
  }

  #onKey(e) {
    const open = this.#matches.length > 0;
    switch (e.key) {
      case 'ArrowDown':
      case 'ArrowUp': {
        e.preventDefault();
        if (!open) return this.#search();
        const step = e.key === 'ArrowDown' ? 1 : -1;
        this.#active = (this.#active + step + this.#matches.length) % this.#matches.length;
        return this.#render();
      }
      case 'Enter':
        if (open && this.#active >= 0) {
          e.preventDefault();
          this.#pick(this.#matches[this.#active]);
        }
        return;
      case 'Escape':
        e.preventDefault();
        if (open) return this.#close();
        this.#input.value = '';
        return this.#search();
      default:
    }
  }

  #close() {
    this.#matches = [];
    this.#active = -1;
    this.#render();
  }

  #pick(film) {
    this.#input.value = '';
    this.#close();
    this.#onPick(film);
  }
}
