// DOM helpers shared by the pages' scripts (dashboard.js, lab.js). A plain script loaded
// before them (no bundler, and the CSP allows only this origin's files, no inline script);
// they read it from window.labapp.dom.
(function () {
  "use strict";
  // A new element TAG, with class CLS and text TEXT when given.
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  // NODE's text (an element or a Text node) set to TEXT only when it differs: an unchanged
  // cell is not touched (no mutation, no layout, nothing for a screen reader to re-read);
  // an element holding one Text node keeps it and only its value changes. Says whether it
  // changed.
  function setText(node, text) {
    const value = text === undefined || text === null ? "" : String(text);
    if (node.textContent === value) return false;
    const only = node.firstChild;
    if (only && only === node.lastChild && only.nodeType === Node.TEXT_NODE && value !== "") {
      only.nodeValue = value;
    } else {
      node.textContent = value;
    }
    return true;
  }
  // NODE's attribute NAME set to VALUE only when it differs; null or undefined removes it.
  function setAttr(node, name, value) {
    if (value === null || value === undefined) {
      if (node.hasAttribute(name)) node.removeAttribute(name);
      return;
    }
    const text = String(value);
    if (node.getAttribute(name) !== text) node.setAttribute(name, text);
  }

  // The indexes (in the new order) of the children that can stay where they are: the longest
  // run of them whose order already holds. POSITIONS: where each one is now, -1 if new.
  function steady(positions) {
    const tails = [], before = [];
    positions.forEach((p, i) => {
      if (p < 0) return;
      let lo = 0, hi = tails.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (positions[tails[mid]] < p) lo = mid + 1; else hi = mid;
      }
      before[i] = lo > 0 ? tails[lo - 1] : -1;
      tails[lo] = i;
    });
    const keep = new Set();
    for (let i = tails.length ? tails[tails.length - 1] : -1; i >= 0; i = before[i]) keep.add(i);
    return keep;
  }
  function moveBefore(parent, node, next) {
    if (node.parentNode === parent && node.nextSibling === next) return;
    if (node.parentNode === parent && parent.moveBefore) {  // a move that keeps focus and state
      try { parent.moveBefore(node, next); return; } catch (e) { /* insertBefore, below */ }
    }
    const focused = node.contains(document.activeElement) ? document.activeElement : null;
    parent.insertBefore(node, next);
    if (focused) focused.focus({ preventScroll: true });  // insertBefore blurs a moved focus
  }
  // PARENT's children put in ORDER (an array of nodes: children of PARENT, or new ones, which
  // are inserted), with as few moves as can be: none when the order holds, one for a node
  // that moved; the nodes are never recreated, and a moved node keeps keyboard focus.
  // Children of PARENT not in ORDER are the caller's to remove first.
  function place(parent, order) {
    const at = new Map(Array.from(parent.children, (node, i) => [node, i]));
    const keep = steady(order.map(node => (at.has(node) ? at.get(node) : -1)));
    let next = null;
    for (let i = order.length - 1; i >= 0; i--) {
      if (!keep.has(i)) moveBefore(parent, order[i], next);
      next = order[i];
    }
  }
  window.labapp = Object.assign(window.labapp || {}, { dom: Object.freeze({ el, setText, setAttr, place }) });
})();
