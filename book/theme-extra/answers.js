// Answers in print: every <details> (lab solutions, quiz answers) is opened
// before the page is printed, and closed again afterwards, so a printed page
// or a PDF shows every answer. The print page (print.html, the whole book on
// one page) opens them all as soon as it loads: it exists to be printed.
(function () {
    "use strict";

    // The <details> this script opened for printing, to close after it.
    var openedForPrint = [];

    function openAll() {
        var all = document.querySelectorAll("details:not([open])");
        for (var i = 0; i < all.length; i++) {
            all[i].open = true;
            openedForPrint.push(all[i]);
        }
    }

    function closeOpenedForPrint() {
        for (var i = 0; i < openedForPrint.length; i++) {
            openedForPrint[i].open = false;
        }
        openedForPrint = [];
    }

    var isPrintPage = /(^|\/)print\.html$/.test(window.location.pathname);

    window.addEventListener("beforeprint", openAll);
    if (isPrintPage) {
        // The print page keeps its answers open.
        if (document.readyState === "loading") {
            document.addEventListener("DOMContentLoaded", openAll);
        } else {
            openAll();
        }
        openedForPrint = [];
    } else {
        window.addEventListener("afterprint", closeOpenedForPrint);
    }
})();
