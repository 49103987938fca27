// The login form: the token goes to the server once, which answers with a session cookie.
const form = document.getElementById('login');
const error = document.getElementById('login-error');

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.hidden = true;
  const token = form.elements.token.value;
  const res = await fetch('/console/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  if (res.ok) {
    location.assign('/');
    return;
  }
  error.textContent = res.status === 401 ? 'That is not one of the API tokens.' : `Login failed (${res.status}).`;
  error.hidden = false;
  form.elements.token.select();
});
