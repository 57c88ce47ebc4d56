// Marks a lesson finished when its video ends (the lesson's rule); without JavaScript the
// "I've finished this lesson" button does the same.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("video[data-complete-form]").forEach(function (video) {
    video.addEventListener("ended", function () {
      var form = document.getElementById(video.dataset.completeForm);
      if (form && !form.dataset.sent) {
        form.dataset.sent = "1";
        form.submit();
      }
    });
  });
});
