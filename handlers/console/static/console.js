// Progressive enhancement only: every page works without it.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
});
document.addEventListener("change", (event) => {
  // Filters apply as soon as a list is changed.
  const select = event.target.closest("#filters select, #filters input[type=checkbox]");
  if (select) select.form.requestSubmit();
});
