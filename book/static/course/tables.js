/* Phones: a comparison table of four or more columns becomes a stack of cards, one per row,
   each cell labelled with its column's header (book/static/course/phone.css draws them).
   Without this script the table scrolls inside its own box, as every table does. */
document.addEventListener("DOMContentLoaded", () => {
  for (const table of document.querySelectorAll("article table.table")) {
    const headers = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    if (headers.length < 4) continue;
    table.classList.add("stack-on-phone");
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.cells].forEach((cell, i) => cell.setAttribute("data-label", headers[i] || ""));
    }
  }
});
