/* bel book: navigation that works at every width, clean search summaries, figures a tap away.

   Loaded with `defer` from <head> (docs/conf.py), so it runs after the page is parsed and before
   the theme's own scripts bind their buttons (pydata-sphinx-theme.js is deferred at the end of
   <body>; sphinx-book-theme.js waits for DOMContentLoaded).

   1. The theme's top bar (#pst-header) is hidden (book.css). It held a second search box, and its
      hidden "≡" and "contents" buttons are the first `.primary-toggle` / `.secondary-toggle` on
      the page: both theme scripts bind `document.querySelector(".primary-toggle")`, i.e. that
      hidden one, so the visible buttons in the article header never opened anything
      (pydata-sphinx-theme 0.20 with sphinx-book-theme 1.4). Those two lose the classes, so the
      first toggles are the visible ones. (The bar stays in the page: the theme measures it.)
   2. Search results: Sphinx builds each result's summary from the text of the page's
      [role="main"], which here starts with the article header's buttons ("System Settings Light
      Dark" from the colour-mode menu). The summary is taken from the article alone.
   3. Figures scale down to the column (book.css); each is wrapped in a link to the image itself,
      so a tap (a click) opens it at full size. */
(() => {
  "use strict";
  const bar = document.getElementById("pst-header");
  if (bar) {
    for (const button of bar.querySelectorAll(".primary-toggle, .secondary-toggle")) {
      button.classList.remove("primary-toggle", "secondary-toggle");
    }
    bar.hidden = true; // book.css: #pst-header { display: none } (before this script runs)
  }

  // searchtools.js declares `const Search` (a global binding, not a property of window)
  const search = typeof Search === "undefined" ? undefined : Search; // eslint-disable-line no-undef
  if (search && typeof search.htmlToText === "function") {
    const original = search.htmlToText.bind(search);
    search.htmlToText = (htmlString, anchor) => {
      const doc = new DOMParser().parseFromString(htmlString, "text/html");
      const article = doc.querySelector("article.bd-article");
      if (!article) return original(htmlString, anchor);
      return original(`<div role="main">${article.innerHTML}</div>`, anchor);
    };
  }

  for (const img of document.querySelectorAll("div.cell_output img")) {
    if (img.closest("a")) continue;
    const link = document.createElement("a");
    link.className = "bel-figure-link";
    link.href = img.src;
    link.title = "Open the figure at full size";
    img.replaceWith(link);
    link.append(img);
  }
})();
